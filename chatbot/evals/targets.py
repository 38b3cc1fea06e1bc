"""Where replies come from: the bot in this process, or a running server over HTTP.

In process, `Chatbot.run` gives the reply together with the `Turn` it was built from, so the
search hits are visible for the retrieval metrics.
When the input rails answer before any search (emergency, off-topic), the retriever is asked
separately, for the metrics only ("direct"), so a wrongly declined question still shows
whether search would have found its section.

Over HTTP (`--url`), only the reply JSON is visible: retrieval metrics are N/A. A server that
says "too many requests" (429, or 503, with Retry-After) is waited for and asked again, within
bounds; `on_wait` tells the progress bar. A case whose request fails in transport (after one
retry) or gets an HTTP error is a case with no reply: its `reply` check fails with the detail,
and no other check judges it. A server that cannot be reached at all stops the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from chatbot.bot import Chatbot
from chatbot.errors import ChatbotError, InvalidInput
from chatbot.evals.judge import Outcome


class Target(Protocol):
    name: str
    shows_retrieval: bool

    def send(self, message: str, history: list[dict[str, str]], want_retrieval: bool = False) -> Outcome: ...


class InProcessTarget:
    shows_retrieval = True

    def __init__(self, bot: Chatbot) -> None:
        self.bot = bot
        self.name = "in-process"

    def send(self, message: str, history: list[dict[str, str]], want_retrieval: bool = False) -> Outcome:
        started = time.perf_counter()
        try:
            turn, reply = self.bot.run(message, history)
        except InvalidInput as exc:
            return Outcome(None, None, history, error=f"{exc.code}: {exc}")
        latency = (time.perf_counter() - started) * 1000
        retrieval, source = turn.retrieval, "bot"
        if retrieval is None and want_retrieval and turn.condensed is not None:
            retrieval, source = self.bot.retriever.retrieve(turn.condensed.question, self.bot.k), "direct"
        hits = None
        if retrieval is not None:
            # The top k, then any section ranked lower that the answer used (a condition's definition).
            cited = {c.id for c in reply.citations}
            used = retrieval.hits + [h for h in retrieval.rest if h.chunk.id in cited and h not in retrieval.hits]
            hits = [{"id": h.chunk.id, "section": h.chunk.section, "score": round(h.score, 4)} for h in used]
        return Outcome(reply.to_dict(), latency, list(history), hits, source if hits is not None else "")


class HttpTarget:
    shows_retrieval = False

    def __init__(
        self, url: str, client: httpx.Client | None = None, timeout: float = 30.0, *,
        max_wait: float = 120.0, max_tries: int = 20, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = self.url
        self.client = client or httpx.Client(timeout=timeout)
        self.max_wait, self.max_tries, self.sleep = max_wait, max_tries, sleep
        self.on_wait: Callable[[float, str], None] = lambda seconds, reason: None
        self.waits, self.waited = 0, 0.0  # over the whole run
        self._reached = False

    def send(self, message: str, history: list[dict[str, str]], want_retrieval: bool = False) -> Outcome:
        waited, retried = 0.0, False
        for _ in range(self.max_tries):
            started = time.perf_counter()
            try:
                response = self.client.post(f"{self.url}/api/chat", json={"message": message, "history": history})
            except httpx.TransportError as exc:
                if not self._reached and isinstance(exc, httpx.ConnectError):
                    # No server means no run: stop instead of failing every case the same way.
                    raise ChatbotError(f"Cannot reach {self.url}/api/chat ({exc.__class__.__name__}: {exc}).") from None
                if retried:
                    return Outcome(None, None, list(history), error=f"transport error: {exc.__class__.__name__}: {exc}")
                retried = True
                self._wait(1.0, f"{exc.__class__.__name__}, trying again")
                continue
            self._reached = True
            latency = (time.perf_counter() - started) * 1000  # this request's, not the waiting before it
            wait = retry_after(response) if response.status_code in (429, 503) else None
            if wait is None or waited + wait > self.max_wait:
                return self._outcome(response, latency, history, waited)
            self._wait(wait, f"HTTP {response.status_code}, server asks to wait")
            waited += wait
        return self._outcome(response, latency, history, waited)

    def _wait(self, seconds: float, reason: str) -> None:
        self.on_wait(seconds, reason)
        self.waits += 1
        self.waited += seconds
        self.sleep(seconds)

    def _outcome(self, response: httpx.Response, latency: float, history: list[dict[str, str]],
                 waited: float) -> Outcome:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            code = error.get("code", "") if isinstance(error, dict) else ""
            text = error.get("message", response.text[:200]) if isinstance(error, dict) else response.text[:200]
            detail = f"HTTP {response.status_code} {code}: {text}".strip()
            if waited:
                detail += f" (still, after waiting {waited:g} s as asked)"
            return Outcome(None, latency, list(history), error=detail)
        if not isinstance(data, dict) or not isinstance(data.get("answer"), str) or "kind" not in data:
            return Outcome(None, latency, list(history), error="the response is not a reply object")
        return Outcome(data, latency, list(history))


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks to wait (Retry-After: seconds or an HTTP date), or None if it does not say."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
