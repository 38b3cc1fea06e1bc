"""`Store`: every read and write of the clinic's records, over SQLAlchemy Core.

    store = Store.from_settings(settings)   # SQLite file under DATA_DIR unless DATABASE_URL is set
    store.migrate()                          # Alembic upgrade to head (also done on first use)
    store.record_replies([Recorded(message_id, question, reply)])
    store.add_feedback("down", message_id=message_id, comment="too vague")
    store.report(days=30); store.unanswered(); store.pins(); store.purge()

The same code runs on SQLite (the embedded default) and PostgreSQL (`postgresql://...`, driver
psycopg 3), so several replicas can share one database. Free text is scrubbed of e-mail
addresses and phone numbers before it is written (privacy.py); with `store_questions` off no
question or comment text is written at all. Rows older than `retention_days` are deleted at
start and then at most an hour apart, by whichever replica writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from chatbot.answer.reply import Reply
from chatbot.errors import ChatbotError
from chatbot.store import tables as t
from chatbot.store.privacy import scrub

log = logging.getLogger(__name__)
SQLITE_FILE = "feedback.sqlite3"  # the name it had when it held only feedback: existing folders keep their rows
PURGE_EVERY = 3600.0  # seconds between retention sweeps
_MIGRATION_LOCK = 72_431_014  # PostgreSQL advisory lock: one replica migrates, the others wait
_MIGRATING = threading.Lock()


class StoreError(ChatbotError):
    """The database cannot be reached or migrated."""


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


def database_url(settings: Any) -> str:
    """CHATBOT_DATABASE_URL, or the SQLite file under the data folder; PostgreSQL goes through psycopg 3."""
    url = settings.database_url.strip()
    if not url:
        return f"sqlite:///{Path(settings.data_dir) / SQLITE_FILE}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Store:
    def __init__(self, url: str, *, retention_days: int = 30, store_questions: bool = True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.url = sa.engine.make_url(url)
        self.retention_days = retention_days
        self.store_questions = store_questions
        self.clock = clock
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._migrated = False
        self._next_purge = 0.0
        self._stopped = threading.Event()

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        return cls(database_url(settings), retention_days=settings.retention_days,
                   store_questions=settings.store_questions)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def where(self) -> str:
        """The database, for logs and the admin page: no password."""
        return self.url.render_as_string(hide_password=True)

    # --- set-up ---------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.backend == "sqlite" and self.url.database:
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
                self._engine = sa.create_engine(self.url, connect_args={"timeout": 15})
                sa.event.listen(self._engine, "connect", _sqlite_pragmas)
            else:
                self._engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        return self._engine

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic), then purge expired rows."""
        from alembic import command
        from alembic.config import Config

        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin otherwise
        # Alembic keeps its migration context in module globals: one migration at a time per process.
        with _MIGRATING, self._lock:
            config = Config()
            config.set_main_option("script_location", str(resources.files("chatbot.store") / "migrations"))
            try:
                with self._sqlite_file_lock(), self.engine.begin() as connection:
                    if self.backend == "postgresql":
                        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                raise StoreError(f"Cannot open the database {self.where}: {str(exc.orig).strip()}") from None
            self._migrated = True
        self.purge()

    @contextlib.contextmanager
    def _sqlite_file_lock(self) -> Iterator[None]:
        """Processes that share one SQLite file migrate it one at a time (PostgreSQL: advisory lock)."""
        if self.backend != "sqlite" or not self.url.database:
            yield
            return
        self.engine  # noqa: B018 (makes the folder)
        with open(f"{self.url.database}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def revision(self) -> str | None:
        with self.engine.connect() as connection:
            from alembic.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()

    def _begin(self):
        if not self._migrated:
            self.migrate()
        return self.engine.begin()

    def close(self) -> None:
        self._stopped.set()
        if self._engine is not None:
            self._engine.dispose()

    # --- writing --------------------------------------------------------------------------
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
                "created_at": _iso(self.clock()), "rating": rating, "message_id": message_id,
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
        return {**reply, "sections": [_section_out(s) for s in sections]}

    # --- reading --------------------------------------------------------------------------
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
            "created_at": _iso(r["created_at"]), "day": r["day"].isoformat(),
            "sections": [_section_out(s) for s in sections.get(r["id"], [])],
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
            found[row["message_id"]] = Unanswered(f"r{row['id']}", row["question"], reasons, _iso(row["created_at"]))
        for row in down:
            known = found.get(row["message_id"]) if row["message_id"] else None
            if known is not None:
                found[row["message_id"]] = Unanswered(known.key, known.question, (*known.reasons, "rated_down"),
                                                      known.created_at)
            else:
                found[row["message_id"] or f"f{row['id']}"] = Unanswered(
                    f"f{row['id']}", row["question"], ("rated_down",), row["created_at"])
        return sorted(found.values(), key=lambda u: u.created_at, reverse=True)[:limit]

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

    def unanswered_version(self) -> tuple[int, ...]:
        """Changes whenever `unanswered()` would: for caching what is worked out from it."""
        r, f = t.replies, t.feedback
        with self._begin() as connection:
            replies = connection.execute(sa.select(sa.func.count(), sa.func.max(r.c.id)).where(
                r.c.question.is_not(None), sa.or_(r.c.kind == "out_of_scope", r.c.not_covered))).one()
            down = connection.execute(sa.select(sa.func.count(), sa.func.max(f.c.id)).where(
                f.c.rating == "down", f.c.question.is_not(None))).one()
        return tuple(int(n or 0) for n in (*replies, *down))

    # --- reports: counts over the last `days` days, whole or a page at a time ---------------
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

    def _page(self, query: sa.Select, limit: int, offset: int = 0) -> Page:
        with self._begin() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
            rows = connection.execute(query.limit(limit).offset(offset)).mappings().all()
        return Page([dict(row) for row in rows], int(total), offset, limit)

    # --- pins -----------------------------------------------------------------------------
    def add_pin(self, label: str, chunk_ids: list[str], centroid: list[float], model_id: str,
                threshold: float, questions: int) -> int:
        with self._begin() as connection:
            return int(connection.execute(t.pins.insert().returning(t.pins.c.id), {
                "created_at": self.clock(), "label": label.strip(), "chunk_ids": list(chunk_ids),
                "centroid": [float(x) for x in centroid], "model_id": model_id, "threshold": float(threshold),
                "questions": int(questions),
            }).scalar_one())

    def pins(self) -> list[Pin]:
        with self._begin() as connection:
            rows = connection.execute(sa.select(t.pins).order_by(t.pins.c.id)).mappings().all()
        return [_pin(row) for row in rows]

    def pins_page(self, limit: int, offset: int = 0) -> Page:
        """Pins, oldest first (the order the bot and the page list them in)."""
        page = self._page(sa.select(t.pins).order_by(t.pins.c.id), limit, offset)
        return Page([_pin(row) for row in page.rows], page.total, offset, limit)

    def delete_pin(self, pin_id: int) -> bool:
        with self._begin() as connection:
            return connection.execute(t.pins.delete().where(t.pins.c.id == pin_id)).rowcount > 0

    # --- retention ------------------------------------------------------------------------
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
                    t.feedback.delete().where(t.feedback.c.created_at < _iso(cutoff))).rowcount,
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

    def counts(self) -> dict[str, int]:
        with self._begin() as connection:
            return {table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                    for table in (t.replies, t.feedback, t.pins)}

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


def _pin(row: Any) -> Pin:
    return Pin(row["id"], row["label"], list(row["chunk_ids"]), list(row["centroid"]), row["model_id"],
               float(row["threshold"]), row["questions"], _iso(row["created_at"]))


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _children(connection: Connection, table: sa.Table, reply_ids: list[int]) -> dict[int, list]:
    out: dict[int, list] = {}
    for start in range(0, len(reply_ids), 500):
        rows = connection.execute(sa.select(table).where(table.c.reply_id.in_(reply_ids[start:start + 500]))
                                  .order_by(table.c.id)).mappings().all()
        for row in rows:
            out.setdefault(row["reply_id"], []).append(row)
    return out


def _section(citation: Any) -> dict[str, str]:
    return {"chunk_id": citation.id, "section": citation.section, "label": citation.label or citation.section,
            "article_id": citation.article_id or "", "article_title": citation.article_title or ""}


def _section_out(row: Any) -> dict[str, str]:
    return {"id": row["chunk_id"], "section": row["section"], "label": row["label"],
            "article_id": row["article_id"], "article_title": row["article_title"]}


def _iso(moment: datetime | str) -> str:
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:  # SQLite hands back what it was given, without the zone: UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()
