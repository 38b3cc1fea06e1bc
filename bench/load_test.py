"""Load test: concurrent clients against a real server on this machine.

    .venv/bin/python bench/load_test.py                      # start app.py, 16 clients, 10,000 requests
    .venv/bin/python bench/load_test.py -n 2000 --endpoint stream
    .venv/bin/python bench/load_test.py --url http://127.0.0.1:7860 --pid 1234

Without --url it starts `python app.py` on a free 127.0.0.1 port with the rate limit off
(CHATBOT_RATE_LIMIT_PER_MINUTE=0) and a temporary data folder, and stops it at the end. To
target a server of your own, start it with that variable set (or a high limit), else most
requests get 429. Only loopback addresses are accepted as targets.

Questions come from evals/sets/*.yaml, varied (case, punctuation, greetings, typos, some
with a previous turn as history), so the server sees many different strings; --unique makes
every one different (no cache can help). Reports throughput, latency percentiles, errors and
the server's RSS after the warm-up, every 1,000 requests, and at the end (psutil).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
PREFIXES = ["", "", "", "hi, ", "hello! ", "quick question: ", "sorry to bother you, ", "doc, ", "um "]
SUFFIXES = ["", "", "", "?", "??", " please", " thanks", "...", " (asking for my mum)"]


def load_questions() -> list[str]:
    questions = []
    for path in sorted((ROOT / "evals" / "sets").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for case in data.get("cases", []):
            if isinstance(case.get("question"), str) and case["question"].strip():
                questions.append(case["question"].strip())
    if not questions:
        sys.exit("no questions found in evals/sets/*.yaml")
    return questions


def vary(question: str, rng: random.Random, serial: int | None) -> str:
    """The same question as different people type it."""
    text = question.lower() if rng.random() < 0.4 else question
    if rng.random() < 0.3:
        text = text.rstrip("?.!")
    if rng.random() < 0.15 and len(text) > 12:  # swap two neighbouring letters: a typo
        i = rng.randrange(3, len(text) - 2)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    text = rng.choice(PREFIXES) + text + rng.choice(SUFFIXES)
    return f"{text} (#{serial})" if serial is not None else text


def make_requests(n: int, unique: bool, seed: int) -> list[dict]:
    rng, questions = random.Random(seed), load_questions()
    bodies = []
    for i in range(n):
        body: dict = {"message": vary(rng.choice(questions), rng, i if unique else None)}
        if rng.random() < 0.2:  # a follow-up: one earlier exchange as history
            body["history"] = [{"role": "user", "content": rng.choice(questions)},
                               {"role": "assistant", "content": "(an earlier answer)"}]
        bodies.append(body)
    return bodies


async def one(client: httpx.AsyncClient, endpoint: str, body: dict) -> tuple[float, int, str]:
    started = time.perf_counter()
    if endpoint == "chat":
        response = await client.post("/api/chat", json=body)
        kind = response.json().get("kind", "?") if response.status_code == 200 else "-"
        return time.perf_counter() - started, response.status_code, kind
    async with client.stream("POST", "/api/chat/stream", json=body) as response:
        text = (await response.aread()).decode("utf-8")
    ok = response.status_code == 200 and "event: reply" in text and "event: error" not in text
    kind = json.loads(text.split("event: reply\ndata: ", 1)[1].split("\n", 1)[0])["kind"] if ok else "-"
    return time.perf_counter() - started, response.status_code if ok else -1, kind


async def run(url: str, bodies: list[dict], concurrency: int, endpoint: str, server: psutil.Process | None,
              warmup: int) -> dict:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:
        for body in bodies[:warmup]:  # fills caches and lazy imports before anything is measured
            await one(client, endpoint, body)
        bodies = bodies[warmup:]
        rss_before = server.memory_info().rss if server else None
        rss_samples: list[int] = []
        results: list[tuple[float, int, str]] = []
        errors: Counter[str] = Counter()
        queue = iter(bodies)

        async def worker() -> None:
            for body in queue:
                try:
                    results.append(await one(client, endpoint, body))
                except Exception as exc:
                    errors[type(exc).__name__] += 1
                if server and len(results) % 1000 == 0:
                    rss_samples.append(server.memory_info().rss)

        cpu_server = sum(server.cpu_times()[:2]) if server else 0.0
        cpu_client = sum(psutil.Process().cpu_times()[:2])
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_server = sum(server.cpu_times()[:2]) - cpu_server if server else 0.0
        cpu_client = sum(psutil.Process().cpu_times()[:2]) - cpu_client
    latencies = sorted(r[0] for r in results)
    statuses = Counter(r[1] for r in results)
    return {
        "requests": len(bodies), "concurrency": concurrency, "endpoint": endpoint, "seconds": elapsed,
        "replies_per_s": statuses.get(200, 0) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p90_ms": 1000 * latencies[int(0.90 * (len(latencies) - 1))] if latencies else None,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "max_ms": 1000 * latencies[-1] if latencies else None,
        "errors": sum(n for status, n in statuses.items() if status != 200) + sum(errors.values()),
        "statuses": dict(statuses), "exceptions": dict(errors), "kinds": dict(Counter(r[2] for r in results)),
        "unique_messages": len({b["message"] for b in bodies}),
        "server_cpu_ms_per_reply": 1000 * cpu_server / max(1, len(results)) if server else None,
        "client_cpu_ms_per_request": 1000 * cpu_client / max(1, len(results)),
        "rss_before_mb": rss_before / 2**20 if rss_before else None,
        "rss_after_mb": server.memory_info().rss / 2**20 if server else None,
        "rss_every_1000_mb": [round(r / 2**20, 1) for r in rss_samples],
    }


def start_server(data_dir: Path) -> tuple[str, subprocess.Popen]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CHATBOT_RATE_LIMIT_PER_MINUTE": "0", "CHATBOT_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=(data_dir / "server.log").open("w"),
    )
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with code {process.returncode}; see {data_dir / 'server.log'}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    sys.exit("the server did not come up within 180 s")


def print_report(result: dict) -> None:
    rows = [
        ("requests / clients / endpoint", f"{result['requests']} / {result['concurrency']} / {result['endpoint']}"),
        ("distinct messages", result["unique_messages"]),
        ("duration", f"{result['seconds']:.1f} s"),
        ("throughput", f"{result['replies_per_s']:.1f} replies/s"),
        ("latency p50 / p90 / p99 / max",
         f"{result['p50_ms']:.1f} / {result['p90_ms']:.1f} / {result['p99_ms']:.1f} / {result['max_ms']:.1f} ms"),
        ("errors", f"{result['errors']}  statuses {result['statuses']} {result['exceptions'] or ''}"),
        ("reply kinds", result["kinds"]),
        ("CPU per request: client / server",
         f"{result['client_cpu_ms_per_request']:.1f} / {result['server_cpu_ms_per_reply'] or 0:.1f} ms"),
    ]
    if result["rss_before_mb"] is not None:
        rows.append(("server RSS after warm-up / end",
                     f"{result['rss_before_mb']:.1f} / {result['rss_after_mb']:.1f} MB "
                     f"({result['rss_after_mb'] - result['rss_before_mb']:+.1f})"))
        rows.append(("server RSS every 1,000", result["rss_every_1000_mb"]))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="target a running server (loopback only) instead of starting one")
    parser.add_argument("--pid", type=int, help="the target server's process id, for its RSS (with --url)")
    parser.add_argument("-n", "--requests", type=int, default=10_000)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--endpoint", choices=["chat", "stream"], default="chat")
    parser.add_argument("--warmup", type=int, default=200, help="requests sent first and not measured")
    parser.add_argument("--unique", action="store_true", help="make every message different (defeats caches)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()

    process = None
    if args.url:
        if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("only servers on this machine (127.0.0.1, localhost, ::1) may be load-tested")
        url, server = args.url.rstrip("/"), psutil.Process(args.pid) if args.pid else None
    else:
        url, process = start_server(Path(tempfile.mkdtemp(prefix="chatbot-load-")))
        server = psutil.Process(process.pid)
    try:
        bodies = make_requests(args.requests + args.warmup, args.unique, args.seed)
        result = asyncio.run(run(url, bodies, args.concurrency, args.endpoint, server, args.warmup))
        result["warmup"] = args.warmup
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print_report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
