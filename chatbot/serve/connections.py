"""Slow and stalled clients: a time limit for each request to arrive, and a cap on connections.

uvicorn closes connections that sit idle between requests, but waits without end for a
request that never finishes arriving; a few thousand sockets that send half a request and
stall then use up the open-file limit, and every new visitor waits. Here, on uvicorn's h11
protocol:

- A request's head and body must arrive within `request_timeout` seconds of its first byte
  (or of the connection opening); otherwise the connection is closed, with 408 Request
  Timeout if half a head had arrived (a connection that sent nothing is closed quietly).
- At most `max_connections` are open at once. Past that, the connection that has waited
  longest for a request to arrive (a stalled one, when under attack) is closed to make room;
  only when every connection is busy with a reply is the new one turned away with 503.
  Logged in one line when it starts, then at most every 10 s with counts.

    files = raise_open_file_limit()
    protocol = guarded_protocol(request_timeout=15, max_connections=min(1000, files - 128))
    uvicorn.run(app, http=protocol, ...)
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)
LOG_EVERY = 10.0  # seconds between lines about the connection limit
TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
FULL_BODY = b'{"error": {"code": "server_busy", "message": "the server is busy; please try again shortly"}}'
FULL_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\n"
                 b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(FULL_BODY), FULL_BODY))


def raise_open_file_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file limit towards `wanted` (as far as the hard limit allows);
    return the limit now in force. Each connection takes one file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def guarded_protocol(request_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """A protocol class for `uvicorn.run(http=...)`, with its own limits and its own count."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {
        "request_timeout": float(request_timeout), "max_connections": max(1, max_connections),
        "waiting": OrderedDict(), "limit_log": _LimitLog(max_connections),
    })


class _LimitLog:
    """Counts what the connection limit did, and says so at most every LOG_EVERY seconds."""

    def __init__(self, limit: int) -> None:
        self.limit, self.closed, self.refused, self.next_line = limit, 0, 0, 0.0

    def note(self, now: float, *, closed: int = 0, refused: int = 0) -> None:
        self.closed += closed
        self.refused += refused
        if now >= self.next_line:
            log.warning(
                "Connection limit of %d reached: closed %d connection(s) still waiting for their request and "
                "turned away %d new one(s) since the last report. Slow or stalled clients, or an attack; the "
                "limit is CHATBOT_MAX_CONNECTIONS.", self.limit, self.closed, self.refused)
            self.closed = self.refused = 0
            self.next_line = now + LOG_EVERY


class GuardedH11Protocol(H11Protocol):
    request_timeout: ClassVar[float] = 15.0
    max_connections: ClassVar[int] = 1000
    # Connections waiting for a request to arrive, longest-waiting first (one dict per server).
    waiting: ClassVar[OrderedDict[GuardedH11Protocol, None]] = OrderedDict()
    limit_log: ClassVar[_LimitLog] = _LimitLog(1000)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._start_waiting()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            if self._deadline is None and not self.transport.is_closing():
                self._arm()  # the first bytes of another request on a kept-alive connection
        else:
            self._stop_waiting()  # the request is in: the app answers it, at its own pace

    def on_response_complete(self) -> None:
        super().on_response_complete()  # arms uvicorn's keep-alive timeout; may start a pipelined request
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.waiting[self] = None  # idle again, at the back: the longest-waiting is the first to go
            self.waiting.move_to_end(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._stop_waiting()  # the connection belongs to the WebSocket protocol from here on
        super().handle_websocket_upgrade(event)

    def _start_waiting(self) -> None:
        self.waiting[self] = None
        self._arm()

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.request_timeout, self._timed_out)

    def _stop_waiting(self) -> None:
        self.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _answering(self) -> bool:
        return self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # 408 to half a request head; a connection that sent nothing (a browser's spare one) is just closed.
        if self.conn.their_state is h11.IDLE and not self._answering() and self.conn.trailing_data[0]:
            self.transport.write(TIMEOUT_RESPONSE)
        self._close()

    def _close(self) -> None:
        self._stop_waiting()
        self.transport.close()

    def _make_room(self) -> None:
        now = self.loop.time()
        for other in self.waiting:
            if other is not self and not other._answering() and not other.transport.is_closing():
                other._close()
                self.limit_log.note(now, closed=1)
                return
        self.transport.write(FULL_RESPONSE)
        self._close()
        self.limit_log.note(now, refused=1)
