"""Counts over the last `days` days, in SQL: replies per day by kind, per article and section
cited, the emergency signs recognised, ratings; whole (`report`) or a page at a time.

    class Store(Reports, ...)                # store.py: the one class callers use
    store.report(days=30)                    # -> Report, every count at once
    store.totals(days=30)                    # the totals alone (the admin overview)
    store.sections_page(30, limit=25, offset=25)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatbot.store import tables as t
from chatbot.store.records import Page, Report


class Reports:
    """The counting part of `Store` (store.py sets up what it needs; `_page` is in reading.py)."""

    clock: Callable[[], datetime]
    _begin: Callable[[], AbstractContextManager[Connection]]
    _page: Callable[[sa.Select, int, int], Page]

    def report(self, days: int = 30) -> Report:
        """Counts over the last `days` days: replies per day by kind, by article and section,
        the emergency signs recognised, and feedback."""
        since = self._since(days)
        with self._begin() as connection:
            per_day = _per_day(connection, since)
            sections, articles, signs = (
                [dict(x) for x in connection.execute(query).mappings().all()]
                for query in (_sections(since), _articles(since), _signs(since)))
            totals = _totals(connection, since)
        return Report(days, since.isoformat(), totals, per_day, sections, articles, signs)

    def totals(self, days: int = 30) -> dict[str, int]:
        """The report's totals alone: replies, unanswered, ratings, signs recognised."""
        with self._begin() as connection:
            return _totals(connection, self._since(days))

    def since(self, days: int = 30) -> str:
        """The first day (UTC, ISO) a report over `days` days counts."""
        return self._since(days).isoformat()

    def days_page(self, days: int, limit: int, offset: int = 0) -> Page:
        """Replies per day by kind ({"day", kind: n, ...}), newest day first."""
        since, r = self._since(days), t.replies
        every_day = sa.select(r.c.day).where(r.c.day >= since).group_by(r.c.day).order_by(r.c.day.desc())
        with self._begin() as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(every_day.subquery())).scalar_one()
            shown = list(connection.execute(every_day.limit(limit).offset(offset)).scalars())
            rows = _per_day(connection, since, shown) if shown else []
        return Page(rows, int(total), offset, limit)

    def kinds(self, days: int = 30) -> list[str]:
        """The kinds of reply given over the period, for the per-day table's columns."""
        r = t.replies
        with self._begin() as connection:
            return list(connection.execute(sa.select(r.c.kind).where(r.c.day >= self._since(days))
                                           .group_by(r.c.kind).order_by(r.c.kind)).scalars())

    def sections_page(self, days: int, limit: int, offset: int = 0) -> Page:
        """Sections cited, by how many replies cited them, most first."""
        return self._page(_sections(self._since(days)), limit, offset)

    def articles_page(self, days: int, limit: int, offset: int = 0) -> Page:
        return self._page(_articles(self._since(days)), limit, offset)

    def signs_page(self, days: int, limit: int, offset: int = 0) -> Page:
        """Emergency and urgent signs recognised ({"level", "sign", "replies"}), most first."""
        return self._page(_signs(self._since(days)), limit, offset)

    def _since(self, days: int) -> date:
        return (self.clock() - timedelta(days=days - 1)).date()


def _per_day(connection: Connection, since: date, only: list[date] | None = None) -> list[dict[str, Any]]:
    """[{"day", kind: n, ...}] newest day first, for every day since `since` or those in `only`."""
    r = t.replies
    query = sa.select(r.c.day, r.c.kind, sa.func.count()).where(r.c.day >= since)
    if only is not None:
        query = query.where(r.c.day.in_(only))
    days_seen: dict[date, dict[str, Any]] = {}
    for day, kind, n in connection.execute(query.group_by(r.c.day, r.c.kind)).all():
        days_seen.setdefault(day, {"day": day.isoformat()})[kind] = n
    return [days_seen[d] for d in sorted(days_seen, reverse=True)]


def _sections(since: date) -> sa.Select:
    r, s = t.replies, t.reply_sections
    replies = sa.func.count(sa.distinct(s.c.reply_id)).label("replies")
    return (sa.select(s.c.article_id, s.c.article_title, s.c.chunk_id, s.c.section, s.c.label, replies)
            .join(r, r.c.id == s.c.reply_id).where(r.c.day >= since)
            .group_by(s.c.article_id, s.c.article_title, s.c.chunk_id, s.c.section, s.c.label)
            .order_by(sa.desc("replies"), s.c.chunk_id, s.c.label, s.c.article_title, s.c.section))


def _articles(since: date) -> sa.Select:
    r, s = t.replies, t.reply_sections
    replies = sa.func.count(sa.distinct(s.c.reply_id)).label("replies")
    return (sa.select(s.c.article_id, s.c.article_title, replies)
            .join(r, r.c.id == s.c.reply_id).where(r.c.day >= since)
            .group_by(s.c.article_id, s.c.article_title)
            .order_by(sa.desc("replies"), s.c.article_id, s.c.article_title))


def _signs(since: date) -> sa.Select:
    r, g = t.replies, t.reply_signs
    return (sa.select(g.c.level, g.c.sign, sa.func.count().label("replies"))
            .join(r, r.c.id == g.c.reply_id).where(r.c.day >= since)
            .group_by(g.c.level, g.c.sign).order_by(sa.desc("replies"), g.c.sign, g.c.level))


def _totals(connection: Connection, since: date) -> dict[str, int]:
    r, g, f = t.replies, t.reply_signs, t.feedback
    replies = connection.execute(sa.select(sa.func.count()).where(r.c.day >= since)).scalar_one()
    unanswered = connection.execute(sa.select(sa.func.count()).where(
        r.c.day >= since, sa.or_(r.c.kind == "out_of_scope", r.c.not_covered))).scalar_one()
    ratings = dict(connection.execute(
        sa.select(f.c.rating, sa.func.count()).where(f.c.created_at >= since.isoformat())
        .group_by(f.c.rating)).all())
    signs = connection.execute(
        sa.select(sa.func.count()).select_from(g).join(r, r.c.id == g.c.reply_id).where(r.c.day >= since)).scalar_one()
    return {"replies": int(replies), "unanswered": int(unanswered), "rated_up": int(ratings.get("up", 0)),
            "rated_down": int(ratings.get("down", 0)), "signs_recognised": int(signs)}
