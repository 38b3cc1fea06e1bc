"""Slow clients: how many stalled connections before a normal request waits more than 1 s.

    .venv/bin/python bench/slow_clients.py                   # this checkout, and `main` as the peer
    .venv/bin/python bench/slow_clients.py --peer none --max 5000 --open-files 4096

Starts `python app.py` (the real app and model) on a free 127.0.0.1 port, with its open-file
limit set to --open-files (soft and hard: 1024 is a common default that a service cannot raise),
the rate limit off, and a temporary data folder. Then opens connections that each send half
a request head and stall, --step at a time up to --max, while a normal client asks GET /healthz
and POST /api/chat on fresh connections every 100 ms. For each step it prints how long the
normal requests took and how many stalled sockets the server has closed; the result is the
first count at which a normal request waited more than 1 s (or failed). The peer is the same
run against another git revision of app.py (`git archive`), so both face the same machine.
Loopback only; every socket is closed at the end.
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.fake_server import running  # noqa: E402

HALF_REQUEST = (b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 30\r\nX-Padding: ")
SLOW = 1.0  # seconds: a normal request slower than this counts as held up


class NormalClient(threading.Thread):
    """Asks a normal question every 100 ms on a fresh connection; keeps every latency."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.samples, self.stop = base, [], threading.Event()
        self.started: float | None = None  # of the request in flight

    def waiting_for(self) -> float:
        """How long the request in flight has waited so far (0 if none)."""
        started = self.started
        return 0.0 if started is None else time.perf_counter() - started

    def run(self) -> None:
        while not self.stop.is_set():
            started = self.started = time.perf_counter()
            try:
                with httpx.Client(timeout=5) as client:
                    ok = client.get(self.base + "/healthz").status_code == 200 and client.post(
                        self.base + "/api/chat", json={"message": "what is tarsal tunnel syndrome"}).status_code == 200
            except httpx.HTTPError:
                ok = False
            self.samples.append((time.perf_counter() - started, ok))
            self.started = None
            self.stop.wait(0.1)

    def take(self) -> list[tuple[float, bool]]:
        taken, self.samples = self.samples, []
        return taken


def closed_by_server(s: socket.socket) -> bool:
    """Whether the server has closed `s` (after a 408, or without a word)."""
    s.setblocking(False)  # look, do not wait
    try:
        while data := s.recv(65536, socket.MSG_DONTWAIT):
            del data  # the 408, if any; then the end of the stream
        return True
    except BlockingIOError:
        return False  # open, nothing sent
    except OSError:
        return True  # reset


def closed_count(sockets: list[socket.socket]) -> int:
    return sum(closed_by_server(s) for s in sockets)


def attack(base: str, step: int, most: int) -> dict:
    port = int(base.rsplit(":", 1)[1])
    normal = NormalClient(base)
    normal.start()
    sockets: list[socket.socket] = []
    rows, first_slow, unconnected = [], None, 0
    try:
        time.sleep(0.5)
        rows.append((0, normal.take(), 0, 0.0))
        while len(sockets) < most:
            for _ in range(step):
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=0.2)
                    s.sendall(HALF_REQUEST)
                    sockets.append(s)
                except OSError:
                    unconnected += 1  # the server's accept queue is full: it has stopped accepting
            time.sleep(0.5)  # the normal client's requests meanwhile
            samples, stuck = normal.take(), normal.waiting_for()
            rows.append((len(sockets), samples, closed_count(sockets), stuck))
            if first_slow is None and (stuck > SLOW or any(seconds > SLOW or not ok for seconds, ok in samples)):
                first_slow = len(sockets)
            if first_slow is not None and (len(sockets) >= first_slow + 2 * step or unconnected >= 2 * step):
                break  # held up, and confirmed at two more steps
        for s in sockets:
            s.close()
        time.sleep(6.0)  # longer than the normal client's timeout
        after = normal.take()
    finally:
        normal.stop.set()
        normal.join(timeout=10)
        for s in sockets:
            s.close()
    return {"rows": rows, "first_slow": first_slow, "after": after, "unconnected": unconnected}


def report(name: str, result: dict, log: str) -> None:
    print(f"\n{name}")
    print(f"  {'stalled':>8} {'normal requests':>16} {'median ms':>10} {'max ms':>9} {'failed':>7}"
          f" {'one waiting for':>16} {'closed by server':>17}")
    for count, samples, closed, stuck in result["rows"]:
        times = [seconds * 1000 for seconds, _ in samples]
        failed = sum(1 for _, ok in samples if not ok)
        median = f"{statistics.median(times):.0f}" if times else "-"
        worst = f"{max(times):.0f}" if times else "-"
        waiting = f"{stuck * 1000:.0f} ms" if stuck > SLOW else "-"
        print(f"  {count:>8} {len(samples):>16} {median:>10} {worst:>9} {failed:>7} {waiting:>16} {closed:>17}")
    after = result["after"]
    if result["unconnected"]:
        print(f"  {result['unconnected']} stalled connections could not even connect (accept queue full)")
    print(f"  in the 6 s after the stalled sockets closed: {sum(ok for _, ok in after)} of {len(after)} normal "
          "requests answered")
    print(f"  server log: 'Too many open files' {log.count('Too many open files')}x, "
          f"'Connection limit' {log.count('Connection limit of')}x")
    first = result["first_slow"]
    print(f"  => a normal request first waited > {SLOW:.0f} s at {first} stalled connections" if first else
          f"  => no normal request waited > {SLOW:.0f} s up to {result['rows'][-1][0]} stalled connections")


def checkout(ref: str, folder: Path) -> Path:
    target = folder / ref.replace("/", "_")
    target.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default="main", help="git revision to compare with, or 'none' (default main)")
    parser.add_argument("--open-files", type=int, default=1024, help="the server's open-file limit (default 1024)")
    parser.add_argument("--step", type=int, default=100, help="stalled connections added per step (default 100)")
    parser.add_argument("--max", type=int, default=3000, help="most stalled connections (default 3000)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.max + 200 <= hard or hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.max + 200, hard))

    with tempfile.TemporaryDirectory(prefix="slow-clients-") as tmp:
        folder = Path(tmp)
        env = {"CHATBOT_RATE_LIMIT_PER_MINUTE": "0", "CHATBOT_INDEX_DIR": str(folder / "index")}
        targets = [("this checkout", ROOT)]
        if args.peer != "none":
            targets.append((f"peer: {args.peer}", checkout(args.peer, folder)))
        for name, root in targets:
            run_dir = folder / f"run-{len(name)}-{root.name}"
            run_dir.mkdir()
            command = [sys.executable, str(root / "app.py")]
            with running({**env, "PYTHONPATH": str(root)}, run_dir, open_files=args.open_files, command=command,
                         cwd=root) as (base, log):
                result = attack(base, args.step, args.max)
                text = log.read_text()
            report(f"{name} (open-file limit {args.open_files})", result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
