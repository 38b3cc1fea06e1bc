"""`Store`: every read and write of the clinic's records, over SQLAlchemy Core.

    store = Store.from_settings(settings)   # SQLite file under DATA_DIR unless DATABASE_URL is set
    store.migrate()                          # Alembic upgrade to head (also done on first use)
    store.record_replies([Recorded(message_id, question, reply)])
    store.add_feedback("down", message_id=message_id, comment="too vague")
    store.report(days=30); store.unanswered(); store.pins(); store.purge()

The same code runs on SQLite (the embedded default) and PostgreSQL (`postgresql://...`, driver
psycopg 3), so several replicas can share one database. `Store` is one class in four parts:
this module opens the database and migrates it; writing.py writes (and deletes what is past
the retention period), reading.py reads rows back, reports.py counts. The dataclasses that
cross its edge are in records.py. Rows older than `retention_days` are deleted at start and
then at most an hour apart, by whichever replica writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chatbot.errors import ChatbotError
from chatbot.store.reading import Reads
from chatbot.store.records import Page, Pin, Recorded, Report, Unanswered
from chatbot.store.reports import Reports
from chatbot.store.writing import Writes

__all__ = ["Page", "Pin", "Recorded", "Report", "Store", "StoreError", "Unanswered", "database_url"]
SQLITE_FILE = "feedback.sqlite3"  # the name it had when it held only feedback: existing folders keep their rows
_MIGRATION_LOCK = 72_431_014  # PostgreSQL advisory lock: one replica migrates, the others wait
_MIGRATING = threading.Lock()


class StoreError(ChatbotError):
    """The database cannot be reached or migrated."""


def database_url(settings: Any) -> str:
    """CHATBOT_DATABASE_URL, or the SQLite file under the data folder; PostgreSQL goes through psycopg 3."""
    url = settings.database_url.strip()
    if not url:
        return f"sqlite:///{Path(settings.data_dir) / SQLITE_FILE}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Store(Writes, Reads, Reports):
    """Every read and write of the clinic's records (writing.py, reading.py, reports.py); this
    part opens the database and keeps its schema at the newest migration."""

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
