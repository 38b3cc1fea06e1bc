"""`python app.py` as a real process on a free 127.0.0.1 port, with the real model."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.server, pytest.mark.model]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on an empty index folder (so it must build one first) and a temporary data folder."""
    tmp = tmp_path_factory.mktemp("app")
    port = free_port()
    env = {**os.environ, "CHATBOT_DATA_DIR": str(tmp / "data"), "CHATBOT_INDEX_DIR": str(tmp / "index"),
           "CHATBOT_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer /healthz within 180 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield base, tmp, log_path, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("app.py did not stop within 30 s of SIGTERM")


def test_it_builds_the_missing_index_and_says_so(server):
    base, tmp, log_path, _ = server
    log = log_path.read_text()
    assert "Building the search index" in log
    assert (tmp / "index" / "manifest.json").is_file()
    health = httpx.get(base + "/healthz").json()
    assert health["status"] == "ok" and health["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert health["chunks"] > 10 and len(health["corpus_fingerprint"]) == 64


def test_it_answers_a_question_over_http(server):
    base, *_ = server
    response = httpx.post(base + "/api/chat", json={"message": "How is tarsal tunnel syndrome treated?"}, timeout=30)
    assert response.status_code == 200
    reply = response.json()
    assert set(reply) == {"answer", "body", "kind", "alert", "citations", "red_flags", "red_flags_heading",
                         "red_flags_source", "notices", "disclaimer"}
    assert reply["kind"] == "answer"
    assert any("Tarsal Tunnel" in c["section"] for c in reply["citations"])
    assert reply["disclaimer"] in reply["answer"] and reply["red_flags"]
    assert response.headers["x-message-id"] and "frame-ancestors" in response.headers["content-security-policy"]


def test_it_streams_and_stores_feedback(server):
    base, tmp, *_ = server
    with httpx.stream("POST", base + "/api/chat/stream", json={"message": "what is PTTD"}, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
        message_id = response.headers["x-message-id"]
    names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert names[-2:] == ["meta", "reply"] and names[0] == "delta"
    reply = json.loads(text.rsplit("data: ", 1)[1])
    rated = httpx.post(base + "/api/feedback", json={"message_id": message_id, "rating": "up"})
    assert rated.status_code == 201
    with sqlite3.connect(Path(tmp) / "data" / "feedback.sqlite3") as db:
        assert db.execute("SELECT question, answer FROM feedback").fetchall() == [("what is PTTD", reply["answer"])]


def test_it_serves_the_page_and_the_docs(server):
    base, *_ = server
    page = httpx.get(base + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert httpx.get(base + "/docs").status_code == 200
    assert "/api/chat" in httpx.get(base + "/openapi.json").json()["paths"]


def test_it_writes_no_client_address_to_its_log(server):
    base, _, log_path, _ = server
    httpx.get(base + "/healthz")
    assert "127.0.0.1:" not in log_path.read_text().replace(base, "")
