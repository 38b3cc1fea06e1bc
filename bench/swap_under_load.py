"""An index rebuilt under load: the server swaps it in while clients keep asking.

Starts `app.py` on 127.0.0.1 over a copy of the corpus, runs bench/load_test.py against it,
and meanwhile rebuilds the index several times (`chatbot index build`), adding and removing a
second article each time. Prints the load test's figures (errors must be 0), the corpus
fingerprints /healthz reported during the run (one per swap) and how long each build took.

    .venv/bin/python bench/swap_under_load.py            # 4 rebuilds, 3,000 requests
    .venv/bin/python bench/swap_under_load.py --rebuilds 6 -n 5000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECOND = ROOT / "tests" / "data" / "corpora" / "bicycle" / "looking-after-your-bicycle.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuilds", type=int, default=4)
    parser.add_argument("-n", "--requests", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        corpus, index, data = tmp_path / "corpus", tmp_path / "index", tmp_path / "data"
        shutil.copytree(ROOT / "corpus", corpus)
        env = {**os.environ, "CHATBOT_CORPUS_DIR": str(corpus), "CHATBOT_INDEX_DIR": str(index),
               "CHATBOT_DATA_DIR": str(data), "CHATBOT_RATE_LIMIT_PER_MINUTE": "0", "CHATBOT_RELOAD_SECONDS": "0.5"}
        chatbot = [sys.executable, "-m", "chatbot"]
        subprocess.run([*chatbot, "index", "build"], env=env, check=True, capture_output=True)
        port = _free_port()
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url)
            seen: list[str] = []
            builds: list[float] = []
            done = threading.Event()

            def rebuild() -> None:
                time.sleep(3)
                for n in range(args.rebuilds):
                    target = corpus / SECOND.name
                    if n % 2 == 0:
                        shutil.copy(SECOND, target)
                    else:
                        target.unlink()
                    started = time.perf_counter()
                    subprocess.run([*chatbot, "index", "build"], env=env, check=True, capture_output=True)
                    builds.append(time.perf_counter() - started)
                    time.sleep(2)
                done.set()

            def watch() -> None:
                while not done.is_set():
                    fingerprint = httpx.get(f"{url}/healthz", timeout=5).json()["corpus_fingerprint"]
                    if not seen or seen[-1] != fingerprint:
                        seen.append(fingerprint)
                    time.sleep(0.2)

            threads = [threading.Thread(target=rebuild), threading.Thread(target=watch)]
            for thread in threads:
                thread.start()
            results = tmp_path / "load.json"
            subprocess.run([sys.executable, str(ROOT / "bench" / "load_test.py"), "--url", url, "--pid",
                            str(server.pid), "-n", str(args.requests), "--json", str(results)], check=True)
            for thread in threads:
                thread.join()
            load = json.loads(results.read_text())
            print(json.dumps({"requests": load.get("requests"), "errors": load.get("errors"),
                              "replies_per_s": load.get("replies_per_s"), "p50_ms": load.get("p50_ms"),
                              "p99_ms": load.get("p99_ms"), "rebuilds": args.rebuilds,
                              "build_seconds": [round(b, 2) for b in builds],
                              "fingerprints_seen": len(seen)}, indent=2))
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not start")


if __name__ == "__main__":
    sys.exit(main())
