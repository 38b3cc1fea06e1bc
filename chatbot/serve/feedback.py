"""The server's side of the record: each reply it served, and thumbs up or down on them.

A thin layer over `chatbot.store.Store` (SQLite under the data folder, or the PostgreSQL of
CHATBOT_DATABASE_URL that every replica shares):

- `remember(message_id, question, reply)` records a reply without making the request wait:
  replies are queued and written in batches by one background thread (a full queue drops
  the record with a warning, never the reply). Recent replies are also kept in memory, so
  a rating by id right after the reply finds it even before the batch is written.
- `add(rating, ...)` stores a rating before it returns, so a 201 means it is in the database.

A rating names its reply either by the message id the API returned (`X-Message-Id`), from
any replica, or by the question and answer themselves (the chat page does this). What is
stored, and for how long, is listed in the README ("Privacy and storage").

    feedback = FeedbackStore.from_settings(settings)    # or FeedbackStore(data_dir) for defaults
    feedback.remember(message_id, question, reply)
    feedback.add("down", message_id=message_id, comment="too vague")

A rating that cannot be written raises `StorageError`: code "storage_full" when the disk (or
quota) is full, "storage_unavailable" when the database cannot be opened or written otherwise.
"""

from __future__ import annotations

import atexit
import errno
import logging
import queue
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

import sqlalchemy as sa

from chatbot.answer.reply import Reply
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.store.store import Recorded, Store, StoreError

log = logging.getLogger(__name__)
BATCH = 200  # replies written per transaction at most
FLUSH_SECONDS = 0.2  # how long a recorded reply may wait for its batch


class StorageError(ChatbotError):
    """The rating was not stored. `code` and `public_message` are for clients; str() names the cause."""

    def __init__(self, code: str, public_message: str, cause: str) -> None:
        self.code, self.public_message = code, public_message
        super().__init__(cause)


class FeedbackStore:
    def __init__(self, data_dir: Path | None = None, remember_last: int = 1000, *, store: Store | None = None,
                 max_queue: int = 10_000) -> None:
        if store is None:
            store = Store.from_settings(Settings().with_(data_dir=Path(data_dir or Settings().data_dir)))
        self.store = store
        self.remember_last = remember_last
        self._recent: OrderedDict[str, Recorded] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Recorded | threading.Event] = queue.Queue(max_queue)
        self._writer: threading.Thread | None = None
        self.dropped = 0  # records lost to a full queue (the database is too slow or away)

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        return cls(store=Store.from_settings(settings))

    def remember(self, message_id: str, question: str, reply: Reply) -> None:
        """Record a reply, in the background; keep it in memory for a rating by id."""
        item = Recorded(message_id, question, reply)
        with self._lock:
            self._recent[message_id] = item
            while len(self._recent) > self.remember_last:
                self._recent.popitem(last=False)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="record-replies", daemon=True)
                self._writer.start()
                atexit.register(self.flush)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            log.warning("The record of replies is behind; %d replies not recorded so far", self.dropped)

    def add(
        self, rating: str, *, message_id: str | None = None, question: str | None = None,
        answer: str | None = None, comment: str | None = None, source: str = "api",
    ) -> int:
        """Store one rating now; returns its row id."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        with self._lock:
            known = self._recent.get(message_id) if message_id else None
        kind = sections = None
        if known is not None:
            question, answer = question or known.question, answer or known.reply.answer
            kind = known.reply.kind
            sections = [{"id": c.id, "section": c.section, "label": c.label or c.section,
                         "article_id": c.article_id, "article_title": c.article_title}
                        for c in known.reply.citations]
        try:
            return self.store.add_feedback(rating, message_id=message_id, question=question, answer=answer,
                                           comment=comment, source=source, kind=kind, sections=sections)
        except (sa.exc.OperationalError, StoreError, OSError) as exc:
            raise _storage_error(exc) from None

    def all(self) -> list[dict]:
        """Every stored rating, oldest first (for reports and tests)."""
        return self.store.feedback_rows()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every reply queued so far is written (tests; shutdown)."""
        if self._writer is None or not self._writer.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)  # the writer sets it once everything before it is written
        done.wait(timeout)

    def _write_loop(self) -> None:
        while True:
            batch: list[Recorded] = []
            markers: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    batch.append(item)
                if len(batch) >= BATCH:
                    break
                try:
                    item = self._queue.get(timeout=0 if markers else FLUSH_SECONDS)
                except queue.Empty:
                    break
            if batch:
                try:
                    self.store.record_replies(batch)
                except (sa.exc.OperationalError, StoreError, OSError) as exc:
                    log.error("Could not record %d replies: %s", len(batch), _storage_error(exc))  # one line
                except Exception:
                    log.exception("Could not record %d replies", len(batch))
            for marker in markers:
                marker.set()


def _storage_error(exc: Exception) -> StorageError:
    """What a failed write says: the disk is full (SQLite's SQLITE_FULL, PostgreSQL's disk_full,
    ENOSPC or EDQUOT from the system), or the database cannot be written for another reason."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    full = (getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(cause, "sqlstate", getattr(cause, "pgcode", None)) == "53100"
            or getattr(cause, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
            or any(words in str(cause) for words in ("disk is full", "No space left on device")))
    detail = f"{cause.__class__.__name__}: {str(cause).strip()}"
    if full:
        return StorageError("storage_full", "the rating could not be stored: the server's disk is full; "
                            "please try again later", f"the disk is full ({detail})")
    return StorageError("storage_unavailable", "the rating could not be stored; please try again later", detail)
