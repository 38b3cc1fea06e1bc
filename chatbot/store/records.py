"""What the store hands out and takes in: plain dataclasses, no SQL.

    Recorded(message_id, question, reply)     # a reply to write (Store.record_replies)
    Unanswered, Pin                           # rows read back
    Report                                    # counts over a period (Store.report)
    Page                                      # one page of a longer list (Store.*_page)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatbot.answer.reply import Reply


@dataclass(frozen=True)
class Recorded:
    """A reply to record, as the API served it."""

    message_id: str
    question: str
    reply: Reply
    pinned: int | None = None


@dataclass(frozen=True)
class Unanswered:
    """A question the bot did not answer well: declined, "not in the article", or rated down."""

    key: str  # "r<reply id>" or "f<feedback id>"
    question: str
    reasons: tuple[str, ...]  # "out_of_scope", "not_covered", "rated_down"
    created_at: str


@dataclass(frozen=True)
class Pin:
    id: int
    label: str
    chunk_ids: list[str]
    centroid: list[float]
    model_id: str
    threshold: float
    questions: int
    created_at: str


@dataclass
class Report:
    days: int
    since: str
    totals: dict[str, int] = field(default_factory=dict)
    per_day: list[dict[str, Any]] = field(default_factory=list)  # [{"day", "answer": n, ...}], newest first
    sections: list[dict[str, Any]] = field(default_factory=list)  # [{"article_id", ..., "replies"}]
    articles: list[dict[str, Any]] = field(default_factory=list)
    signs: list[dict[str, Any]] = field(default_factory=list)  # [{"level", "sign", "replies"}]


@dataclass(frozen=True)
class Page:
    """One page of a longer list, as the database returned it: `rows` from `offset` on."""

    rows: list[Any]
    total: int  # rows in the whole list
    offset: int
    limit: int


def section_out(row: Any) -> dict[str, str]:
    """A cited section as a row of `reply_sections` names it, for pages and exports."""
    return {"id": row["chunk_id"], "section": row["section"], "label": row["label"],
            "article_id": row["article_id"], "article_title": row["article_title"]}


def iso(moment: datetime | str) -> str:
    """A stored time as ISO 8601 in UTC, to the second."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:  # SQLite hands back what it was given, without the zone: UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()
