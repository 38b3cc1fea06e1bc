"""The storage layer on both backends: SQLite (the default) and a real PostgreSQL server."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chatbot.answer.reply import Alert, Citation, Notice, Reply
from chatbot.config import Settings
from chatbot.store import tables
from chatbot.store.store import Recorded, Store, database_url

_names = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'feedback.sqlite3'}"
    return request.getfixturevalue("postgres").create_database(f"store_{next(_names)}")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(url, clock):
    store = Store(url, clock=clock)
    yield store
    store.close()


def answer(*sections: str, notices=()) -> Reply:
    citations = [Citation(n, f"article/{s}", f"Article › {s}", "quote", 0.5, f"Article › {s}", "article", "Article")
                 for n, s in enumerate(sections, start=1)]
    return Reply("the answer", "answer", citations, notices=list(notices))


EMERGENCY = Reply("call now", "emergency", alert=Alert("emergency", "Call now.", ["cold foot", "sudden numbness"]))
DECLINED = Reply("I can only help with ...", "out_of_scope")
NOT_COVERED = answer("symptoms", notices=[Notice("not_covered", "The article does not cover this.")])


def test_migrations_build_exactly_the_tables_the_code_uses(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store.migrate()
    assert store.revision() == "0002"
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), tables.metadata)
    assert differences == []
    store.migrate()  # a second start changes nothing
    assert store.revision() == "0002"


def test_no_table_has_a_column_for_who_asked(store):
    store.migrate()
    inspector = sa.inspect(store.engine)
    columns = {c["name"] for name in inspector.get_table_names() for c in inspector.get_columns(name)}
    assert not {c for c in columns if any(w in c for w in ("ip", "addr", "agent", "cookie", "user", "session"))}


def test_a_reply_is_recorded_with_its_sections_and_signs(store):
    assert store.record_replies([Recorded("m1", "what helps?", answer("treatment", "rest")),
                                 Recorded("m2", "my foot is cold and numb", EMERGENCY)]) == 2
    latest, first = store.reply_rows()
    assert first["question"] == "what helps?" and first["kind"] == "answer" and first["answer"] == "the answer"
    assert [s["id"] for s in first["sections"]] == ["article/treatment", "article/rest"]
    assert first["sections"][0] == {"id": "article/treatment", "section": "Article › treatment",
                                    "label": "Article › treatment", "article_id": "article", "article_title": "Article"}
    assert latest["kind"] == "emergency" and latest["alert_level"] == "emergency"
    assert [s["sign"] for s in latest["signs"]] == ["cold foot", "sudden numbness"]
    assert latest["created_at"] == "2026-03-10T12:00:00+00:00" and latest["day"] == "2026-03-10"


def test_a_message_id_seen_before_does_not_lose_the_others(store):
    store.record_reply("m1", "first", answer("a"))
    assert store.record_replies([Recorded("m1", "again", answer("a")), Recorded("m2", "second", answer("b"))]) == 1
    assert [r["question"] for r in store.reply_rows()] == ["second", "first"]


def test_a_rating_by_id_finds_the_reply_another_replica_recorded(url, clock):
    one, two = Store(url, clock=clock), Store(url, clock=clock)
    one.record_reply("m1", "how is it treated?", answer("treatment"))
    feedback_id = two.add_feedback("down", message_id="m1", comment="too vague")
    [row] = one.feedback_rows()
    assert row["id"] == feedback_id and row["question"] == "how is it treated?" and row["answer"] == "the answer"
    assert row["kind"] == "answer" and row["comment"] == "too vague" and row["source"] == "api"
    assert [s["id"] for s in row["sections"]] == ["article/treatment"]
    assert two.add_feedback("up", message_id="never-seen") > feedback_id  # still stored, without a question
    one.close(), two.close()


def test_contact_details_never_reach_the_database(store, url, tmp_path):
    store.record_reply("m1", "call me on 0612 345 678 or mail jo.doe@example.org: is it serious?", answer("a"))
    store.add_feedback("down", question="ring +44 20 7946 0958", answer="a", comment="me: jo.doe@example.org")
    [reply] = store.reply_rows()
    [rating] = store.feedback_rows()
    assert reply["question"] == "call me on [phone removed] or mail [e-mail removed]: is it serious?"
    assert rating["question"] == "ring [phone removed]" and rating["comment"] == "me: [e-mail removed]"
    if url.startswith("sqlite"):
        store.close()
        raw = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir())
        assert b"345 678" not in raw and b"jo.doe" not in raw and b"7946" not in raw


def test_with_question_storage_off_no_question_or_comment_text_is_kept(url, clock):
    store = Store(url, clock=clock, store_questions=False)
    store.record_reply("m1", "my secret question", answer("a"))
    store.add_feedback("down", message_id="m1", comment="my secret comment")
    store.add_feedback("up", question="another secret", answer="the answer")
    assert [r["question"] for r in store.reply_rows()] == [None]
    assert [(r["question"], r["comment"], r["rating"]) for r in store.feedback_rows()] == [
        (None, None, "down"), (None, None, "up")]
    assert store.report().totals["replies"] == 1  # counts still work
    assert store.unanswered() == []
    store.close()


def test_rows_older_than_the_retention_period_are_deleted(url, clock):
    store = Store(url, clock=clock, retention_days=30)
    store.record_reply("old", "old question", EMERGENCY)
    store.add_feedback("down", message_id="old")
    clock.now += timedelta(days=20)
    store.record_reply("new", "new question", answer("a"))
    store.add_feedback("up", message_id="new")
    clock.now += timedelta(days=11)  # the first ones are 31 days old, the others 11
    deleted = store.purge()
    assert deleted["replies"] == 1 and deleted["feedback"] == 1 and deleted["reply_signs"] == 2
    assert [r["message_id"] for r in store.reply_rows()] == ["new"]
    assert [r["message_id"] for r in store.feedback_rows()] == ["new"]
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(tables.reply_signs)).scalar_one() == 0
        assert connection.execute(sa.select(sa.func.count()).select_from(tables.reply_sections)).scalar_one() == 1
    store.close()


def test_opening_the_store_deletes_expired_rows(url, clock):
    Store(url, clock=clock).record_reply("old", "q", answer("a"))
    clock.now += timedelta(days=31)
    later = Store(url, clock=clock)
    later.migrate()  # what app.py does at start
    assert later.reply_rows() == []


def test_report_counts_per_day_kind_article_section_and_sign(store, clock):
    store.record_replies([Recorded("a1", "q1", answer("treatment")), Recorded("a2", "q2", answer("treatment", "rest")),
                          Recorded("e1", "q3", EMERGENCY), Recorded("o1", "q4", DECLINED)])
    clock.now += timedelta(days=1)
    store.record_replies([Recorded("a3", "q5", answer("rest")), Recorded("n1", "q6", NOT_COVERED)])
    store.add_feedback("down", message_id="a3")
    report = store.report(days=30)
    assert report.per_day == [{"day": "2026-03-11", "answer": 2}, {"day": "2026-03-10", "answer": 2, "emergency": 1,
                                                                   "out_of_scope": 1}]
    assert {s["chunk_id"]: s["replies"] for s in report.sections} == {
        "article/treatment": 2, "article/rest": 2, "article/symptoms": 1}
    assert report.articles == [{"article_id": "article", "article_title": "Article", "replies": 4}]
    assert [(s["sign"], s["replies"]) for s in report.signs] == [("cold foot", 1), ("sudden numbness", 1)]
    assert report.totals == {"replies": 6, "unanswered": 2, "rated_up": 0, "rated_down": 1, "signs_recognised": 2}
    assert store.report(days=1).totals["replies"] == 2


def test_unanswered_questions_are_declined_not_covered_or_rated_down(store):
    store.record_replies([Recorded("o1", "can you fix my car", DECLINED), Recorded("n1", "can I swim", NOT_COVERED),
                          Recorded("a1", "what helps", answer("a")), Recorded("a2", "is it bad", answer("b"))])
    store.add_feedback("down", message_id="a1")
    store.add_feedback("down", message_id="n1")
    store.add_feedback("up", message_id="a2")
    store.add_feedback("down", question="typed on the page", answer="x", source="page")
    found = {u.question: u.reasons for u in store.unanswered()}
    assert found == {"can you fix my car": ("out_of_scope",), "can I swim": ("not_covered", "rated_down"),
                     "what helps": ("rated_down",), "typed on the page": ("rated_down",)}
    keys = [u.key for u in store.unanswered()]
    assert sorted(store.questions_for(keys)) == sorted(found)


def test_pins_are_kept_and_removed(store):
    pin_id = store.add_pin("swimming", ["article/rest"], [0.6, 0.8], "model-a", 0.75, 4)
    [pin] = store.pins()
    assert (pin.id, pin.label, pin.chunk_ids, pin.centroid, pin.model_id, pin.threshold, pin.questions) == (
        pin_id, "swimming", ["article/rest"], [0.6, 0.8], "model-a", 0.75, 4)
    assert store.delete_pin(pin_id) and store.pins() == [] and not store.delete_pin(pin_id)


def test_every_replica_gets_the_same_shared_key(url):
    stores = [Store(url) for _ in range(4)]
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda s=s: keys.append(s.shared_key("admin-session"))) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1 and len(keys[0]) == 32
    for store in stores:
        store.close()


def test_replicas_starting_together_migrate_once(url):
    stores = [Store(url) for _ in range(3)]
    errors: list[Exception] = []

    def start(store: Store) -> None:
        try:
            store.migrate()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    if url.startswith("sqlite"):  # one file is for one server; several replicas share PostgreSQL
        threads = threads[:1]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and stores[0].revision() == "0002"
    for store in stores:
        store.close()


def test_an_existing_feedback_file_is_adopted_with_its_rows(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(path) as db:  # the schema the feedback-only version wrote
        db.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, rating TEXT NOT NULL "
                   "CHECK (rating IN ('up', 'down')), comment TEXT, message_id TEXT, question TEXT, answer TEXT, "
                   "kind TEXT, source TEXT NOT NULL)")
        db.execute("INSERT INTO feedback (created_at, rating, question, answer, source) VALUES "
                   "(?, 'up', 'old question', 'old answer', 'page')", (datetime.now(UTC).isoformat(),))
    store = Store(f"sqlite:///{path}")
    store.migrate()
    [row] = store.feedback_rows()
    assert (row["question"], row["rating"], row["sections"]) == ("old question", "up", None)
    store.close()


def test_an_unreachable_database_is_a_clear_error(postgres):
    from chatbot.errors import ChatbotError

    url = postgres.url.replace(f":{postgres.port}/", ":1/")
    with pytest.raises(ChatbotError, match=r"Cannot open the database postgresql\+psycopg://app@127.0.0.1:1/"):
        Store(url).migrate()


def test_the_url_comes_from_the_settings(tmp_path):
    assert database_url(Settings().with_(data_dir=tmp_path)) == f"sqlite:///{tmp_path}/feedback.sqlite3"
    assert database_url(Settings().with_(database_url="postgresql://app:pw@db/chat")) == \
        "postgresql+psycopg://app:pw@db/chat"
    assert Store(database_url(Settings().with_(database_url="postgresql://app:pw@db/chat"))).where == \
        "postgresql+psycopg://app:***@db/chat"


def test_each_list_comes_a_page_at_a_time_in_the_same_order_as_the_whole_report(store, clock):
    for day in range(5):
        store.record_replies([Recorded(f"d{day}-{n}", f"q{day}-{n}", answer(*(f"s{day}{k}" for k in range(n + 1))))
                              for n in range(3)] + [Recorded(f"e{day}", "help", EMERGENCY)])
        clock.now += timedelta(days=1)
    clock.now -= timedelta(days=1)
    for n in range(7):
        store.add_feedback("down", question=f"rated {n}", answer="a")
        store.add_pin(f"pin {n}", ["article/x"], [1.0], "m", 0.75, 1)
    report = store.report(days=30)

    def every(page_of, limit):
        rows, offset = [], 0
        while True:
            page = page_of(limit, offset)
            assert len(page.rows) <= limit and page.offset == offset
            rows += page.rows
            if offset + limit >= page.total:
                assert len(rows) == page.total
                return rows
            offset += limit

    assert every(lambda limit, offset: store.days_page(30, limit, offset), 2) == report.per_day
    assert every(lambda limit, offset: store.sections_page(30, limit, offset), 4) == report.sections
    assert every(lambda limit, offset: store.articles_page(30, limit, offset), 1) == report.articles
    assert every(lambda limit, offset: store.signs_page(30, limit, offset), 1) == report.signs
    assert [r["question"] for r in every(store.feedback_page, 3)] == [f"rated {n}" for n in reversed(range(7))]
    assert [p.label for p in every(store.pins_page, 3)] == [p.label for p in store.pins()]
    assert store.days_page(30, 2, 10).rows == [] and store.days_page(30, 2, 10).total == 5
    assert store.kinds(30) == ["answer", "emergency"] and store.totals(30) == report.totals
    assert store.days_page(2, 10).total == 2 and store.since(2) == (clock.now - timedelta(days=1)).date().isoformat()


def test_the_unanswered_version_changes_when_the_unanswered_questions_do(store, clock):
    first = store.unanswered_version()
    store.record_replies([Recorded("a1", "what helps", answer("a"))])
    assert store.unanswered_version() == first  # an answer is not unanswered
    store.record_replies([Recorded("o1", "fix my car", DECLINED)])
    second = store.unanswered_version()
    assert second != first
    store.add_feedback("down", message_id="a1")
    assert store.unanswered_version() != second
    clock.now += timedelta(days=40)
    store.purge()
    assert store.unanswered_version() == (0, 0, 0, 0)
