"""The deployment in deploy/: two real replicas (app.py) sharing one PostgreSQL, behind Debian's
nginx with deploy/nginx.conf.template, all on 127.0.0.1. Run with `-s` to see the figures."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import CORPUS, ROOT

pytestmark = [pytest.mark.server, pytest.mark.model]
sys.path.insert(0, str(ROOT / "deploy"))
from render import render  # noqa: E402

SECRET = "deployment test admin secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


class Cluster:
    def __init__(self, tmp: Path, database_url: str) -> None:
        from chatbot.serve.admin.auth import hash_secret

        self.tmp, self.database_url = tmp, database_url
        self.corpus, self.index = tmp / "corpus", tmp / "index"
        shutil.copytree(CORPUS, self.corpus)
        if (ROOT / "index" / "manifest.json").is_file():
            shutil.copytree(ROOT / "index", self.index)
        self.chatbot(["index", "build", "--if-stale"])
        self.env = {
            **os.environ, "CHATBOT_DATABASE_URL": database_url, "CHATBOT_CORPUS_DIR": str(self.corpus),
            "CHATBOT_INDEX_DIR": str(self.index), "CHATBOT_DATA_DIR": str(tmp / "data"),
            "CHATBOT_TRUST_PROXY_HEADERS": "true", "CHATBOT_RATE_LIMIT_PER_MINUTE": "0",
            "CHATBOT_ADMIN_SECRET_HASH": hash_secret(SECRET), "PYTHONUNBUFFERED": "1",
        }
        self.ports = [free_port(), free_port()]
        self.replicas: dict[int, subprocess.Popen] = {}
        for port in self.ports:
            self.start_replica(port, wait=False)
        for port in self.ports:
            wait_for(f"http://127.0.0.1:{port}/healthz", self.replicas[port], tmp / f"replica-{port}.log")
        self.nginx_port = free_port()
        prefix = tmp / "nginx"
        conf = render([f"127.0.0.1:{p}" for p in self.ports], f"127.0.0.1:{self.nginx_port}", prefix,
                      api_rate="2000r/s", api_burst=2000)
        (prefix / "nginx.conf").write_text(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                                      stdout=subprocess.DEVNULL, stderr=(prefix / "stderr.log").open("w"))
        wait_for(self.url + "/healthz", self.nginx, prefix / "stderr.log", 20)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def start_replica(self, port: int, wait: bool = True) -> None:
        log = self.tmp / f"replica-{port}.log"
        self.replicas[port] = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=self.env,
            stdout=log.open("w"), stderr=subprocess.STDOUT)
        if wait:
            wait_for(f"http://127.0.0.1:{port}/healthz", self.replicas[port], log)

    def chatbot(self, args: list[str]) -> str:
        command = [str(ROOT / ".venv" / "bin" / "chatbot"), "--corpus", str(self.corpus), "--index", str(self.index),
                   *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self) -> None:
        for process in [self.nginx, *self.replicas.values()]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [self.nginx, *self.replicas.values()]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def cluster(postgres, tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("deploy"), postgres.create_database("deploy"))
    yield cluster
    cluster.stop()


def load_test(url: str, out: Path, requests: int = 300) -> dict:
    done = subprocess.run(
        [sys.executable, "bench/load_test.py", "--url", url, "-n", str(requests), "-c", "8", "--warmup", "20",
         "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    result = json.loads(out.read_text())
    assert done.returncode == 0, done.stdout + done.stderr
    return result


def test_the_load_test_through_nginx_has_no_errors(cluster):
    load_test(cluster.url, cluster.tmp / "warm.json", requests=60)  # both replicas warm before anything is timed
    direct = load_test(f"http://127.0.0.1:{cluster.ports[0]}", cluster.tmp / "direct.json")
    through = load_test(cluster.url, cluster.tmp / "nginx.json")
    print(f"\nthrough nginx to 2 replicas: {through['requests']} requests, {through['errors']} errors, "
          f"{through['replies_per_s']:.1f} replies/s, p50 {through['p50_ms']:.0f} ms, p99 {through['p99_ms']:.0f} ms")
    print(f"one replica direct:          {direct['requests']} requests, {direct['errors']} errors, "
          f"{direct['replies_per_s']:.1f} replies/s, p50 {direct['p50_ms']:.0f} ms, p99 {direct['p99_ms']:.0f} ms")
    assert through["errors"] == 0 and through["statuses"] == {"200": through["requests"]}
    assert direct["errors"] == 0
    served = (cluster.tmp / "nginx" / "access.log").read_text()
    assert all(f"127.0.0.1:{port}" in served for port in cluster.ports)  # both replicas took requests


def sign_in(client: httpx.Client) -> None:
    import re

    page = client.get("/admin/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.post("/admin/sign-in", data={"csrf": token, "secret": SECRET}).status_code == 303


def test_feedback_through_either_replica_is_in_one_admin_report(cluster):
    first, second = (f"http://127.0.0.1:{port}" for port in cluster.ports)
    asked = httpx.post(first + "/api/chat", json={"message": "how is tarsal tunnel syndrome treated?"}, timeout=30)
    message_id = asked.headers["x-message-id"]
    time.sleep(0.6)  # the first replica writes its record of replies in batches
    # Rated through the other replica: it finds the reply in the shared database.
    assert httpx.post(second + "/api/feedback", json={"message_id": message_id, "rating": "down",
                                                      "comment": "rated on the second"}).status_code == 201
    assert httpx.post(first + "/api/feedback", json={"question": "q on the first", "answer": "a", "rating": "up",
                                                     "comment": "rated on the first"}).status_code == 201
    with httpx.Client(base_url=cluster.url, timeout=30, follow_redirects=False) as admin:
        sign_in(admin)
        rows = {r["comment"]: r for r in admin.get("/admin/export/feedback.json").json()}
    assert rows["rated on the second"]["question"] == "how is tarsal tunnel syndrome treated?"
    assert rows["rated on the second"]["answer"] == asked.json()["answer"]
    assert rows["rated on the second"]["sections"]
    assert rows["rated on the first"]["question"] == "q on the first"


def test_nginx_limits_sign_in_attempts_for_all_replicas(cluster):
    statuses, bodies = [], []
    with httpx.Client(base_url=cluster.url, timeout=10) as client:
        for _ in range(12):
            response = client.post("/admin/sign-in", data={"secret": "guess", "csrf": "x"})
            statuses.append(response.status_code)
            bodies.append(response.text)
    assert 429 in statuses
    assert any("<center>nginx</center>" in b for b, s in zip(bodies, statuses, strict=True) if s == 429)


def test_an_index_rebuilt_is_picked_up_by_both_replicas_without_restart(cluster):
    before = {httpx.get(f"http://127.0.0.1:{p}/healthz").json()["corpus_fingerprint"] for p in cluster.ports}
    article = next(cluster.corpus.glob("*.md"))
    article.write_text(article.read_text(encoding="utf-8") + "\n\n## About this article\n\nFor patient education.\n",
                       encoding="utf-8")
    built = cluster.chatbot(["index", "build"])
    assert "Triage detector in" in built and ": current" in built  # a new article never retrains it
    wanted = json.loads((cluster.index / "manifest.json").read_text())["corpus"]["fingerprint"]
    assert before != {wanted}
    deadline = time.monotonic() + 20
    seen: set[str] = set()
    while time.monotonic() < deadline:
        seen = {httpx.get(f"http://127.0.0.1:{p}/healthz").json()["corpus_fingerprint"] for p in cluster.ports}
        if seen == {wanted}:
            break
        time.sleep(0.5)
    assert seen == {wanted}


def test_a_replica_killed_mid_run_fails_no_request_and_loses_no_feedback(cluster):
    rounds, concurrency, kill_after = 240, 8, 60
    acknowledged: list[str] = []
    failures: list[str] = []
    completed = 0
    victim = cluster.replicas[cluster.ports[1]]

    async def run() -> None:
        nonlocal completed
        queue = iter(range(rounds))
        async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as client:
            async def worker() -> None:
                nonlocal completed
                for n in queue:
                    try:
                        chat = await client.post("/api/chat", json={"message": f"what helps tarsal tunnel pain ({n})"})
                        if chat.status_code != 200:
                            failures.append(f"chat {chat.status_code}")
                            continue
                        marker = f"kill-test-{n}"
                        rated = await client.post("/api/feedback", json={
                            "message_id": chat.headers["x-message-id"], "rating": "up", "comment": marker})
                        if rated.status_code == 201:
                            acknowledged.append(marker)
                        else:
                            failures.append(f"feedback {rated.status_code}")
                    except httpx.HTTPError as exc:
                        failures.append(type(exc).__name__)
                    completed += 1
                    if completed == kill_after:
                        victim.send_signal(signal.SIGKILL)  # mid-run, requests in flight on it

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    assert victim.poll() is not None  # it really died
    engine = sa.create_engine(cluster.database_url)
    with engine.connect() as connection:
        stored = set(connection.execute(sa.text(
            "SELECT comment FROM feedback WHERE comment LIKE 'kill-test-%'")).scalars())
    engine.dispose()
    print(f"\nfailover: {rounds} chat+feedback rounds in {elapsed:.1f} s, replica killed after {kill_after}; "
          f"failed requests {len(failures)}; feedback acknowledged {len(acknowledged)}, stored {len(stored)}")
    assert failures == []
    assert set(acknowledged) <= stored and len(acknowledged) == rounds
