"""Server-Sent Events for a streamed reply, in the format the widget and the API docs describe:

    event: delta    data: {"text": "<piece>"}                one or more; joined, they give the answer
    event: meta     data: {"message_id": "<id>"}
    event: reply    data: <the reply JSON>
    event: error    data: {"error": {"code", "message"}}     only if the reply fails part-way

    events = bot.stream(message, history)
    first = await anyio.to_thread.run_sync(pull, events)      # before the response starts
    StreamingResponse(sse(first, events, message_id, remember, threads), media_type="text/event-stream")
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator

import anyio

from chatbot.answer.reply import Reply
from chatbot.errors import InvalidInput

log = logging.getLogger(__name__)
Pulled = tuple[list[str | Reply], Exception | None]


def pull(events: Iterator[str | Reply], budget: float = 0.02) -> Pulled:
    """The next pieces, up to the first that arrives `budget` seconds after the call began: what
    is ready together costs one thread hop and one write (Chatbot.stream computes the whole
    reply before its first piece, so today that is all of it). A piece can wait for one slow
    next piece, no longer.

    A failure before the first piece is raised; after it, it is returned with the pieces so far.
    """
    items: list[str | Reply] = []
    started = time.monotonic()
    try:
        for item in events:
            items.append(item)
            if isinstance(item, Reply) or time.monotonic() - started > budget:
                break
    except Exception as exc:
        if not items:
            raise
        return items, exc
    return items, None


async def sse(
    first: Pulled, events: Iterator[str | Reply], message_id: str,
    remember: Callable[[Reply], None], threads: anyio.CapacityLimiter,
) -> AsyncIterator[str]:
    items, failure = first
    try:
        while items:
            out = []
            for item in items:
                if isinstance(item, Reply):
                    remember(item)
                    yield "".join(out) + event("meta", {"message_id": message_id}) + event("reply", item.to_dict())
                    return
                out.append(event("delta", {"text": item}))
            yield "".join(out)
            if failure:
                raise failure
            items, failure = await anyio.to_thread.run_sync(pull, events, limiter=threads)
        raise RuntimeError("the reply ended without its final Reply")
    except Exception as exc:
        log.error("Streaming reply %s failed", message_id, exc_info=exc)
        code, message = "internal_error", "the reply could not be finished; please try again"
        if isinstance(exc, InvalidInput):
            code, message = exc.code, str(exc)
        yield event("error", {"error": {"code": code, "message": message}})


def event(name: str, data: dict) -> str:
    # json.dumps escapes newlines, so every payload fits on one `data:` line.
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
