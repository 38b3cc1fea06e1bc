"""Where replies come from: the bot in this process, or a running server over HTTP.

In process, `Chatbot.run` gives the reply together with the `Turn` it was built from, so the
search hits are visible for the retrieval metrics.
When the input rails answer before any search (emergency, off-topic), the retriever is asked
separately, for the metrics only ("direct"), so a wrongly declined question still shows
whether search would have found its section.

Over HTTP (`--url`), only the reply JSON is visible: retrieval metrics are N/A.
"""

from __future__ import annotations

import time
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

    def __init__(self, url: str, client: httpx.Client | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.name = self.url
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, message: str, history: list[dict[str, str]], want_retrieval: bool = False) -> Outcome:
        started = time.perf_counter()
        try:
            response = self.client.post(f"{self.url}/api/chat", json={"message": message, "history": history})
        except httpx.TransportError as exc:
            # No server means no run: stop instead of failing every case the same way.
            raise ChatbotError(f"Cannot reach {self.url}/api/chat ({exc.__class__.__name__}: {exc}).") from None
        latency = (time.perf_counter() - started) * 1000
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            code = error.get("code", "") if isinstance(error, dict) else ""
            text = error.get("message", response.text[:200]) if isinstance(error, dict) else response.text[:200]
            return Outcome(None, latency, list(history), error=f"HTTP {response.status_code} {code}: {text}".strip())
        if not isinstance(data, dict) or not isinstance(data.get("answer"), str) or "kind" not in data:
            return Outcome(None, latency, list(history), error="the response is not a reply object")
        return Outcome(data, latency, list(history))
