"""Thumbs up or down on replies, kept in SQLite under the data folder.

A rating names its reply either by the message id the API returned (`X-Message-Id`) or by
the question and answer themselves (the chat page does this). Recent replies are remembered
in memory, a bounded number, so a rating by id is stored with its question and answer while
the reply is still known.

What is stored: rating, optional comment, message id and/or question, answer and reply kind,
where it came from ("api" or "page"), and the time to the second. Never an IP address, a
user agent, a cookie or anything else that identifies a person.

    store = FeedbackStore(settings.data_dir)
    store.remember(message_id, question, reply)
    store.add("down", message_id=message_id, comment="too vague")

A rating that cannot be written raises `StorageError`: code "storage_full" when the disk (or
quota) is full, "storage_unavailable" for other failures of the database or its folder.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections import OrderedDict
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chatbot.answer.reply import Reply
from chatbot.errors import ChatbotError

FILENAME = "feedback.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    message_id TEXT,
    question TEXT,
    answer TEXT,
    kind TEXT,
    source TEXT NOT NULL
)
"""


class StorageError(ChatbotError):
    """The rating was not stored. `code` and `public_message` are for clients; str() names the cause."""

    def __init__(self, code: str, public_message: str, cause: str) -> None:
        self.code, self.public_message = code, public_message
        super().__init__(cause)


@dataclass(frozen=True)
class Remembered:
    question: str
    answer: str
    kind: str


class FeedbackStore:
    def __init__(self, data_dir: Path, remember_last: int = 1000) -> None:
        self.path = Path(data_dir) / FILENAME
        self.remember_last = remember_last
        self._recent: OrderedDict[str, Remembered] = OrderedDict()
        self._lock = threading.Lock()
        self._ready = False

    def remember(self, message_id: str, question: str, reply: Reply) -> None:
        """Keep a reply for a while, so that a later rating by id knows what it rates."""
        with self._lock:
            self._recent[message_id] = Remembered(question, reply.answer, reply.kind)
            while len(self._recent) > self.remember_last:
                self._recent.popitem(last=False)

    def add(
        self, rating: str, *, message_id: str | None = None, question: str | None = None,
        answer: str | None = None, comment: str | None = None, source: str = "api",
    ) -> int:
        """Store one rating; returns its row id. The folder and database appear on first use."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        kind = None
        with self._lock:
            known = self._recent.get(message_id) if message_id else None
        if known is not None:
            question, answer, kind = question or known.question, answer or known.answer, known.kind
        created_at = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            with self._lock, closing(self._connect()) as db, db:
                cursor = db.execute(
                    "INSERT INTO feedback (created_at, rating, comment, message_id, question, answer, kind, source)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (created_at, rating, comment or None, message_id, question, answer, kind, source),
                )
                return int(cursor.lastrowid or 0)
        except (sqlite3.OperationalError, OSError) as exc:
            raise _storage_error(self.path, exc) from None

    def all(self) -> list[dict]:
        """Every stored rating, oldest first (for reports and tests)."""
        if not self.path.exists():
            return []
        with self._lock, closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM feedback ORDER BY id")]

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: writes are rare, and it keeps threads from sharing one.
        fresh = not self._ready or not self.path.exists()
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        if fresh:
            with db:
                db.execute(SCHEMA)
            self._ready = True
        return db


def _storage_error(path: Path, exc: Exception) -> StorageError:
    full = (getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
            or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT))
    cause = f"{path}: {exc.__class__.__name__}: {exc}"
    if full:
        return StorageError("storage_full", "the rating could not be stored: the server's disk is full; "
                            "please try again later", f"the disk is full ({cause})")
    return StorageError("storage_unavailable", "the rating could not be stored; please try again later", cause)
