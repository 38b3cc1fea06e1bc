"""Reading the records back: rows for the admin pages and exports, the unanswered questions,
the pins, and how many rows each table holds.

    class Store(Reads, ...)                  # store.py: the one class callers use
    store.unanswered(); store.questions_for(keys)
    store.feedback_page(limit=20, offset=40)  # LIMIT/OFFSET in the database, and the total
    store.pins(); store.reply_rows(); store.counts()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatbot.store import tables as t
from chatbot.store.records import Page, Pin, Unanswered, iso, section_out


class Reads:
    """The reading part of `Store` (store.py sets up what it needs)."""

    _begin: Callable[[], AbstractContextManager[Connection]]

    def feedback_rows(self, limit: int | None = None, newest_first: bool = False) -> list[dict]:
        order = t.feedback.c.id.desc() if newest_first else t.feedback.c.id
        with self._begin() as connection:
            rows = connection.execute(sa.select(t.feedback).order_by(order).limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    def feedback_page(self, limit: int, offset: int = 0) -> Page:
        """Ratings, newest first."""
        return self._page(sa.select(t.feedback).order_by(t.feedback.c.id.desc()), limit, offset)

    def reply_rows(self, limit: int | None = None) -> list[dict]:
        """Replies, newest first, each with its cited sections and signs."""
        with self._begin() as connection:
            replies = connection.execute(
                sa.select(t.replies).order_by(t.replies.c.id.desc()).limit(limit)).mappings().all()
            ids = [r["id"] for r in replies]
            sections = _children(connection, t.reply_sections, ids)
            signs = _children(connection, t.reply_signs, ids)
        return [{
            **{k: v for k, v in r.items() if k not in ("created_at", "day")},
            "created_at": iso(r["created_at"]), "day": r["day"].isoformat(),
            "sections": [section_out(s) for s in sections.get(r["id"], [])],
            "signs": [{"level": s["level"], "sign": s["sign"]} for s in signs.get(r["id"], [])],
        } for r in replies]

    def unanswered(self, limit: int = 2000) -> list[Unanswered]:
        """Questions declined as off-topic, answered "not in the article", or rated down,
        newest first; a rated-down reply appears once with both reasons."""
        r, f = t.replies, t.feedback
        with self._begin() as connection:
            replies = connection.execute(
                sa.select(r.c.id, r.c.message_id, r.c.question, r.c.kind, r.c.not_covered, r.c.created_at)
                .where(r.c.question.is_not(None), sa.or_(r.c.kind == "out_of_scope", r.c.not_covered))
                .order_by(r.c.id.desc()).limit(limit)).mappings().all()
            down = connection.execute(
                sa.select(f.c.id, f.c.message_id, f.c.question, f.c.created_at)
                .where(f.c.rating == "down", f.c.question.is_not(None))
                .order_by(f.c.id.desc()).limit(limit)).mappings().all()
        found: dict[str, Unanswered] = {}
        for row in replies:
            reasons = ("out_of_scope",) if row["kind"] == "out_of_scope" else ("not_covered",)
            found[row["message_id"]] = Unanswered(f"r{row['id']}", row["question"], reasons, iso(row["created_at"]))
        for row in down:
            known = found.get(row["message_id"]) if row["message_id"] else None
            if known is not None:
                found[row["message_id"]] = Unanswered(known.key, known.question, (*known.reasons, "rated_down"),
                                                      known.created_at)
            else:
                found[row["message_id"] or f"f{row['id']}"] = Unanswered(
                    f"f{row['id']}", row["question"], ("rated_down",), row["created_at"])
        return sorted(found.values(), key=lambda u: u.created_at, reverse=True)[:limit]

    def unanswered_version(self) -> tuple[int, ...]:
        """Changes whenever `unanswered()` would: for caching what is worked out from it."""
        r, f = t.replies, t.feedback
        with self._begin() as connection:
            replies = connection.execute(sa.select(sa.func.count(), sa.func.max(r.c.id)).where(
                r.c.question.is_not(None), sa.or_(r.c.kind == "out_of_scope", r.c.not_covered))).one()
            down = connection.execute(sa.select(sa.func.count(), sa.func.max(f.c.id)).where(
                f.c.rating == "down", f.c.question.is_not(None))).one()
        return tuple(int(n or 0) for n in (*replies, *down))

    def questions_for(self, keys: Iterable[str]) -> list[str]:
        """The stored question texts behind `Unanswered.key`s (for making a pin)."""
        reply_ids = [int(k[1:]) for k in keys if k[:1] == "r" and k[1:].isdigit()]
        feedback_ids = [int(k[1:]) for k in keys if k[:1] == "f" and k[1:].isdigit()]
        with self._begin() as connection:
            found = list(connection.execute(sa.select(t.replies.c.question).where(
                t.replies.c.id.in_(reply_ids), t.replies.c.question.is_not(None))).scalars())
            found += connection.execute(sa.select(t.feedback.c.question).where(
                t.feedback.c.id.in_(feedback_ids), t.feedback.c.question.is_not(None))).scalars()
        return found

    def pins(self) -> list[Pin]:
        with self._begin() as connection:
            rows = connection.execute(sa.select(t.pins).order_by(t.pins.c.id)).mappings().all()
        return [_pin(row) for row in rows]

    def pins_page(self, limit: int, offset: int = 0) -> Page:
        """Pins, oldest first (the order the bot and the page list them in)."""
        page = self._page(sa.select(t.pins).order_by(t.pins.c.id), limit, offset)
        return Page([_pin(row) for row in page.rows], page.total, offset, limit)

    def counts(self) -> dict[str, int]:
        with self._begin() as connection:
            return {table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                    for table in (t.replies, t.feedback, t.pins)}

    def _page(self, query: sa.Select, limit: int, offset: int = 0) -> Page:
        """`query`'s rows from `offset` on, at most `limit`, and how many it has in all."""
        with self._begin() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
            rows = connection.execute(query.limit(limit).offset(offset)).mappings().all()
        return Page([dict(row) for row in rows], int(total), offset, limit)


def _children(connection: Connection, table: sa.Table, reply_ids: list[int]) -> dict[int, list]:
    out: dict[int, list] = {}
    for start in range(0, len(reply_ids), 500):
        rows = connection.execute(sa.select(table).where(table.c.reply_id.in_(reply_ids[start:start + 500]))
                                  .order_by(table.c.id)).mappings().all()
        for row in rows:
            out.setdefault(row["reply_id"], []).append(row)
    return out


def _pin(row: Any) -> Pin:
    return Pin(row["id"], row["label"], list(row["chunk_ids"]), list(row["centroid"]), row["model_id"],
               float(row["threshold"]), row["questions"], iso(row["created_at"]))
