"""The app with the deterministic fake bot, served the way app.py serves it (`app.serve`), as a
real process on 127.0.0.1: for tests and benchmarks about the server, not the answers.

    python -m tests.fake_server                   # settings from CHATBOT_* (port, limits, data)

    with running({"CHATBOT_MAX_CONNECTIONS": "100"}, tmp_path, open_files=256) as (base, log):
        httpx.get(base + "/healthz")
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from chatbot.config import Settings, go_offline

    go_offline()
    import app
    from chatbot.bot import Chatbot
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.search.indexing import build_index
    from chatbot.serve.api import create_app
    from tests.fakes import HashingEmbedder

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.load()
    embedder = HashingEmbedder()
    bot = Chatbot(build_index(load_corpus(settings.corpus_dir), embedder), embedder)
    app.serve(create_app(bot, settings), settings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(env: dict[str, str], folder: Path, open_files: int | None = None,
            command: list[str] | None = None, cwd: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """Start the server (or `command`) on a free port with `env` added; `open_files` caps its
    open-file limit, soft and hard, as on a machine where it is that low. Yields (url, log path)."""
    port = free_port()
    log_path = folder / f"server-{port}.log"
    full_env = {**os.environ, "CHATBOT_PORT": str(port), "CHATBOT_DATA_DIR": str(folder / "data"),
                "PYTHONUNBUFFERED": "1", **env}

    def limit_files() -> None:
        if open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with log_path.open("w") as log:
        process = subprocess.Popen(command or [sys.executable, "-m", "tests.fake_server"], cwd=cwd, env=full_env,
                                   stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit_files)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within 120 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
