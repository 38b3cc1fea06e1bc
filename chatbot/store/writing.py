"""Writing the records: replies and their cited sections and signs, ratings, pins, the keys
every replica shares, and deleting what is older than the retention period.

    class Store(Writes, ...)                 # store.py: the one class callers use
    store.record_replies([Recorded(message_id, question, reply)])
    store.add_feedback("down", message_id=message_id, comment="too vague")
    store.add_pin(label, chunk_ids, centroid, model_id, threshold, questions); store.purge()

Free text is scrubbed of e-mail addresses and phone numbers before it is written
(privacy.py); with `store_questions` off no question or comment text is written at all.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatbot.answer.reply import Reply
from chatbot.store import tables as t
from chatbot.store.privacy import scrub
from chatbot.store.records import Recorded, iso, section_out

log = logging.getLogger(__name__)
PURGE_EVERY = 3600.0  # seconds between retention sweeps


class Writes:
    """The writing part of `Store` (store.py sets up what it needs)."""

    clock: Callable[[], datetime]
    store_questions: bool
    retention_days: int
    _next_purge: float
    _stopped: threading.Event
    _begin: Callable[[], AbstractContextManager[Connection]]

    # --- replies and ratings ----------------------------------------------------------------
    def record_replies(self, items: Iterable[Recorded]) -> int:
        """Store replies in one transaction; returns how many were written."""
        items = list(items)
        if not items:
            return 0
        now = self.clock()
        rows = [self._reply_row(item, now) for item in items]
        try:
            written = self._write_replies(items, rows)
        except sa.exc.IntegrityError:  # a message id seen before: write the others one by one
            written = 0
            for item, row in zip(items, rows, strict=True):
                try:
                    written += self._write_replies([item], [row])
                except sa.exc.IntegrityError:
                    log.warning("Reply %s was recorded before; not recorded again", item.message_id)
        self._maybe_purge()
        return written

    def _write_replies(self, items: list[Recorded], rows: list[dict]) -> int:
        with self._begin() as connection:
            statement = t.replies.insert().returning(t.replies.c.id, sort_by_parameter_order=True)
            ids = [row.id for row in connection.execute(statement, rows)]
            sections, signs = [], []
            for item, reply_id in zip(items, ids, strict=True):
                sections += [{"reply_id": reply_id, **_section(c)} for c in item.reply.citations]
                if item.reply.alert is not None:
                    signs += [{"reply_id": reply_id, "level": item.reply.alert.level, "sign": sign}
                              for sign in item.reply.alert.signs]
            if sections:
                connection.execute(t.reply_sections.insert(), sections)
            if signs:
                connection.execute(t.reply_signs.insert(), signs)
        return len(ids)

    def record_reply(self, message_id: str, question: str, reply: Reply, pinned: int | None = None) -> None:
        self.record_replies([Recorded(message_id, question, reply, pinned)])

    def _reply_row(self, item: Recorded, now: datetime) -> dict[str, Any]:
        reply = item.reply
        return {
            "message_id": item.message_id, "created_at": now, "day": now.date(), "kind": reply.kind,
            "question": scrub(item.question) if self.store_questions else None, "answer": reply.answer,
            "not_covered": any(n.kind == "not_covered" for n in reply.notices),
            "alert_level": reply.alert.level if reply.alert else None, "pinned": item.pinned,
        }

    def add_feedback(
        self, rating: str, *, message_id: str | None = None, question: str | None = None,
        answer: str | None = None, comment: str | None = None, source: str = "api",
        kind: str | None = None, sections: list[dict] | None = None,
    ) -> int:
        """Store one rating and return its row id. A rating by message id takes the question,
        answer, kind and sections from the recorded reply when it is there (any replica's)."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        with self._begin() as connection:
            if message_id and (question is None or kind is None):
                known = self._reply_by_message_id(connection, message_id)
                if known is not None:
                    question = question or known["question"]
                    answer = answer or known["answer"]
                    kind, sections = kind or known["kind"], sections or known["sections"]
            row = {
                "created_at": iso(self.clock()), "rating": rating, "message_id": message_id,
                "question": scrub(question) if self.store_questions else None,
                "comment": (scrub(comment) or None) if self.store_questions else None,
                "answer": answer, "kind": kind, "source": source, "sections": sections or None,
            }
            result = connection.execute(t.feedback.insert().returning(t.feedback.c.id), row)
            feedback_id = int(result.scalar_one())
        self._maybe_purge()
        return feedback_id

    def _reply_by_message_id(self, connection: Connection, message_id: str) -> dict | None:
        reply = connection.execute(
            sa.select(t.replies).where(t.replies.c.message_id == message_id)).mappings().first()
        if reply is None:
            return None
        sections = connection.execute(
            sa.select(t.reply_sections).where(t.reply_sections.c.reply_id == reply["id"])
            .order_by(t.reply_sections.c.id)).mappings().all()
        return {**reply, "sections": [section_out(s) for s in sections]}

    # --- pins -------------------------------------------------------------------------------
    def add_pin(self, label: str, chunk_ids: list[str], centroid: list[float], model_id: str,
                threshold: float, questions: int) -> int:
        with self._begin() as connection:
            return int(connection.execute(t.pins.insert().returning(t.pins.c.id), {
                "created_at": self.clock(), "label": label.strip(), "chunk_ids": list(chunk_ids),
                "centroid": [float(x) for x in centroid], "model_id": model_id, "threshold": float(threshold),
                "questions": int(questions),
            }).scalar_one())

    def delete_pin(self, pin_id: int) -> bool:
        with self._begin() as connection:
            return connection.execute(t.pins.delete().where(t.pins.c.id == pin_id)).rowcount > 0

    # --- retention --------------------------------------------------------------------------
    def purge(self) -> dict[str, int]:
        """Delete replies and feedback older than the retention period; returns rows deleted."""
        cutoff = self.clock() - timedelta(days=self.retention_days)
        r = t.replies
        old = sa.select(r.c.id).where(r.c.created_at < cutoff)
        with self._begin() as connection:
            deleted = {
                "reply_sections": connection.execute(
                    t.reply_sections.delete().where(t.reply_sections.c.reply_id.in_(old))).rowcount,
                "reply_signs": connection.execute(
                    t.reply_signs.delete().where(t.reply_signs.c.reply_id.in_(old))).rowcount,
                "replies": connection.execute(r.delete().where(r.c.created_at < cutoff)).rowcount,
                "feedback": connection.execute(
                    t.feedback.delete().where(t.feedback.c.created_at < iso(cutoff))).rowcount,
            }
        self._next_purge = time.monotonic() + PURGE_EVERY
        if deleted["replies"] or deleted["feedback"]:
            log.info("Deleted %d replies and %d ratings older than %d days", deleted["replies"],
                     deleted["feedback"], self.retention_days)
        return deleted

    def purge_every(self, seconds: float = PURGE_EVERY) -> threading.Thread:
        """Purge in a background thread every `seconds`, also while nothing is written."""
        def sweep() -> None:
            while not self._stopped.wait(seconds):
                try:
                    self.purge()
                except Exception:
                    log.exception("Could not delete expired rows; trying again in %.0f s", seconds)

        thread = threading.Thread(target=sweep, name="retention", daemon=True)
        thread.start()
        return thread

    def _maybe_purge(self) -> None:
        if time.monotonic() >= self._next_purge:
            self.purge()

    # --- keys every replica shares ----------------------------------------------------------
    def shared_key(self, name: str) -> bytes:
        """A random key made once and kept in the database, so every replica signs alike."""
        query = sa.select(t.instance_keys.c.value).where(t.instance_keys.c.name == name)
        with self._begin() as connection:
            value = connection.execute(query).scalar()
        if value is None:
            try:
                with self._begin() as connection:
                    value = secrets.token_hex(32)
                    connection.execute(t.instance_keys.insert(), {"name": name, "value": value})
            except sa.exc.IntegrityError:  # another replica made it first
                with self._begin() as connection:
                    value = connection.execute(query).scalar_one()
        return bytes.fromhex(value)


def _section(citation: Any) -> dict[str, str]:
    return {"chunk_id": citation.id, "section": citation.section, "label": citation.label or citation.section,
            "article_id": citation.article_id or "", "article_title": citation.article_title or ""}
