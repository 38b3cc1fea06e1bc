"""The server as a real process on 127.0.0.1 (fake bot, `app.serve`): Schemathesis against its
/openapi.json, and clients that are slow, stalled or many. Bounded: fixed seeds and counts,
a few hundred sockets, loopback only."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fake_server import ROOT, running

pytestmark = pytest.mark.server

HALF_REQUEST = (b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 30\r\nX-Padding: ")  # the head never ends


# --- Schemathesis ----------------------------------------------------------------------------
SCHEMATHESIS = ["--checks", "all", "--mode", "all", "--seed", "1", "--max-examples", "400",
                "--generation-database", "none", "--no-color", "--request-timeout", "20"]


def test_schemathesis_finds_nothing_the_schema_and_server_disagree_on(tmp_path):
    """Every check, positive and negative data, all phases, fixed seed: 0 failures, 0 errors."""
    st = Path(sys.executable).with_name("st")
    with running({"CHATBOT_RATE_LIMIT_PER_MINUTE": "0"}, tmp_path) as (base, log):
        run = subprocess.run(
            [str(st), "--config-file", str(ROOT / "tests" / "schemathesis.toml"), "run", base + "/openapi.json",
             *SCHEMATHESIS, "--report", "json", "--report-json-path", str(tmp_path / "st.json")],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
        server_log = log.read_text()
    report = json.loads((tmp_path / "st.json").read_text())
    summary = run.stdout[run.stdout.find("FAILURES"):][-6000:] or run.stdout[-3000:]
    assert run.returncode == 0 and not report["failures"] and not report["errors"], summary
    cases = report["test_cases"]
    print(f"Schemathesis: {cases['generated']} test cases generated, {report['running_time']:.0f} s")
    assert cases["with_failures"] == cases["errored"] == 0
    assert cases["generated"] >= 1000, cases  # the run is not vacuous
    assert report["operations"]["tested"] == 4  # chat, chat/stream, feedback, healthz
    assert "Traceback" not in server_log


# --- slow and stalled clients ----------------------------------------------------------------
def stalled(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(HALF_REQUEST)
        sockets.append(s)
    return sockets


def closed_by_server(s: socket.socket, received: bytearray | None = None) -> bool:
    """Whether the server has closed `s` (after a 408, or without a word: what came is put in `received`)."""
    s.setblocking(False)  # look, do not wait
    try:
        while data := s.recv(65536, socket.MSG_DONTWAIT):
            if received is not None:
                received += data  # the 408, if any; then the end of the stream
        return True
    except BlockingIOError:
        return False  # open, nothing sent
    except OSError:
        return True  # reset


def answers_quickly(base: str) -> float:
    started = time.perf_counter()
    health = httpx.get(base + "/healthz", timeout=5)
    chat = httpx.post(base + "/api/chat", json={"message": "what is tarsal tunnel syndrome"}, timeout=5)
    assert health.status_code == 200 and chat.status_code == 200
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A server allowed only 768 open files (so 320 connections) and 3 s for a request to arrive."""
    with running({"CHATBOT_REQUEST_TIMEOUT_SECONDS": "3", "CHATBOT_RATE_LIMIT_PER_MINUTE": "0"},
                 tmp_path_factory.mktemp("guarded"), open_files=768) as (base, log):
        yield base, int(base.rsplit(":", 1)[1]), log


def test_800_stalled_connections_do_not_stop_normal_requests(guarded):
    base, port, log = guarded
    attack = stalled(port, 800)  # more than the server's 768 open files
    try:
        waits = [answers_quickly(base) for _ in range(5)]
        assert max(waits) < 2.0, waits
        closed = sum(closed_by_server(s) for s in attack)
        assert closed >= 800 - 320, closed  # the longest-waiting made room for the newer ones
        text = log.read_text()
        assert "Connection limit of 320 reached" in text and "up to 320 connections (open-file limit 768)" in text
        assert "Too many open files" not in text and "Traceback" not in text
    finally:
        for s in attack:
            s.close()


def test_a_request_that_does_not_arrive_in_time_is_closed(guarded):
    base, port, log = guarded
    half, silent, trickle = stalled(port, 1)[0], socket.create_connection(("127.0.0.1", port)), stalled(port, 1)[0]
    body = socket.create_connection(("127.0.0.1", port))
    body.sendall(b'POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n'
                 b'\r\n{"message": ')
    sockets = [half, silent, trickle, body]
    said_to_silent = bytearray()
    try:
        started = time.monotonic()
        while time.monotonic() - started < 6 and not all(
                closed_by_server(s, said_to_silent if s is silent else None) for s in (half, silent, body)):
            with contextlib.suppress(OSError):
                trickle.sendall(b"x")  # a byte at a time does not buy more time
            time.sleep(0.5)
        assert closed_by_server(half) and closed_by_server(silent, said_to_silent) and closed_by_server(body)
        assert said_to_silent == b""  # nothing was asked, so nothing is answered
        assert 2.5 < time.monotonic() - started < 6
        with pytest.raises(OSError):
            for _ in range(4):
                trickle.sendall(b"x")
                time.sleep(0.3)
        answers_quickly(base)
        assert "Traceback" not in log.read_text()
    finally:
        for s in sockets:
            s.close()


def test_the_timeout_answers_408_to_a_head_that_never_ends(guarded):
    _, port, _ = guarded
    s = stalled(port, 1)[0]
    s.settimeout(6)
    try:
        assert s.recv(100).startswith(b"HTTP/1.1 408 Request Timeout")
    finally:
        s.close()


def test_keep_alive_connections_still_work_and_a_slow_second_request_is_timed_out(guarded):
    base, port, _ = guarded
    with httpx.Client(timeout=5) as client:  # one connection, kept alive
        for _ in range(3):
            assert client.get(base + "/healthz").status_code == 200
    s = socket.create_connection(("127.0.0.1", port), timeout=6)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):  # the whole response, head and JSON body
            data += s.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the second head stalls
        assert s.recv(100).startswith(b"HTTP/1.1 408")
    finally:
        s.close()
