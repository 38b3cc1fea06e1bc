"""The API under hostile or unlucky input: deeply nested JSON, any HTTP method, a full disk,
and an OpenAPI schema that says exactly what the server enforces."""

from __future__ import annotations

import errno
import json
import logging
import sqlite3

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from chatbot.config import Settings
from chatbot.serve.api import create_app
from chatbot.serve.feedback import FeedbackStore
from chatbot.store.store import StoreError
from tests.test_api import QUESTION, assert_error, make_client


@pytest.fixture(scope="module")
def client(fake_bot, tmp_path_factory) -> TestClient:
    data = tmp_path_factory.mktemp("hardening") / "data"
    store = FeedbackStore(data)
    store.store.migrate()  # now, not in the background thread while another test migrates its own database
    return TestClient(create_app(fake_bot, Settings().with_(data_dir=data, rate_limit_per_minute=0), feedback=store))


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


# --- 1. nesting ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream", "/api/feedback"])
@pytest.mark.parametrize("depth", [17, 1_000, 30_000])
def test_deeply_nested_json_is_a_400_logged_without_a_traceback(client, path, depth, caplog):
    body = '{"message": "hi", "rating": "up", "history": ' + nested(depth) + "}"
    assert len(body) < 64 * 1024  # under the body limit: it is parsed, not refused for size
    with caplog.at_level(logging.INFO):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    error = assert_error(response, 400, "nesting_too_deep")
    assert "16 levels" in error["message"]
    assert not any(record.exc_info for record in caplog.records)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("body", [nested(5000), '{"a": ' * 5000 + "1" + "}" * 5000])
def test_nesting_without_an_object_around_it_is_a_400_too(client, body):
    assert_error(client.post("/api/chat", content=body, headers={"content-type": "application/json"}),
                 400, "nesting_too_deep")


def test_nesting_within_the_limit_gets_the_usual_field_error(client):
    body = '{"message": "hi", "history": ' + nested(15) + "}"
    assert_error(client.post("/api/chat", content=body, headers={"content-type": "application/json"}),
                 422, "wrong_type")


def test_brackets_inside_strings_are_text_not_nesting(client):
    message = "[" * 1500 + '\\"{' * 100 + "]" * 300
    response = client.post("/api/chat", content='{"message": "' + message + '"}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


# --- 7. methods ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND", "CONNECT", "FOO", "PATCH", "GET"])
@pytest.mark.parametrize(("path", "allowed"), [("/api/chat", "POST"), ("/api/chat/stream", "POST"),
                                               ("/api/feedback", "POST")])
def test_any_other_method_on_an_api_route_is_the_apis_405(client, method, path, allowed):
    response = client.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed
    assert response.headers["content-security-policy"]  # the usual headers still wrap it


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "DELETE", "POST"])
def test_healthz_answers_other_methods_with_405(client, method):
    response = client.request(method, "/healthz")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "GET", "POST"])
def test_unknown_api_paths_are_the_apis_404_whatever_the_method(client, method):
    assert_error(client.request(method, "/api/nothing"), 404, "not_found")


def test_the_page_and_the_api_routes_still_answer(client):
    assert client.get("/").status_code == 200
    assert client.head("/healthz").status_code == 200
    assert client.post("/api/chat", json={"message": QUESTION}).status_code == 200


# --- 8. a full disk --------------------------------------------------------------------------
DISK_FULL = sqlite3.OperationalError("database or disk is full")


def full_database(store: FeedbackStore, monkeypatch) -> None:
    """SQLite itself says "database or disk is full": the database may not grow by one page."""
    engine = store.store.engine
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    def limit(dbapi_connection, record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    sa.event.listen(engine, "connect", limit)
    engine.dispose()  # connections from now on have the limit
    monkeypatch.setattr(store, "_undo_full", lambda: (sa.event.remove(engine, "connect", limit), engine.dispose()),
                        raising=False)


def no_space_on_the_device(store: FeedbackStore, monkeypatch) -> None:
    def add_feedback(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "data/feedback.sqlite3")

    monkeypatch.setattr(store.store, "add_feedback", add_feedback)


def driver_says_full(store: FeedbackStore, monkeypatch) -> None:
    """The driver's error as SQLAlchemy passes it on."""
    def add_feedback(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT INTO feedback ...", {}, DISK_FULL)

    monkeypatch.setattr(store.store, "add_feedback", add_feedback)


@pytest.mark.parametrize("fill", [full_database, no_space_on_the_device, driver_says_full])
def test_a_full_disk_is_a_503_storage_full_logged_once(fake_bot, tmp_path, monkeypatch, caplog, fill):
    store = FeedbackStore(tmp_path / "data")
    store.add("up", question="q", answer="a" * 3000)  # a row that leaves its page too little room for the next
    client = TestClient(create_app(fake_bot, Settings().with_(data_dir=tmp_path / "data", rate_limit_per_minute=0),
                                   feedback=store), raise_server_exceptions=False)
    chat = client.post("/api/chat", json={"message": QUESTION})
    store.flush()  # the reply is recorded before the disk fills
    with monkeypatch.context() as patch:
        fill(store, patch)
        with caplog.at_level(logging.INFO):
            response = client.post("/api/feedback", json={"message_id": chat.headers["x-message-id"], "rating": "up",
                                                          "comment": "x" * 1000})
        error = assert_error(response, 503, "storage_full")
        assert "disk is full" in error["message"] and str(tmp_path) not in error["message"]
        assert response.headers["retry-after"] == "60"
        logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(logged) == 1 and "Feedback not stored: the disk is full" in logged[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)
        assert client.post("/api/chat", json={"message": QUESTION}).status_code == 200  # chat goes on
        getattr(store, "_undo_full", lambda: None)()
    # Space again: ratings are stored, and the row from before is still there.
    again = client.post("/api/feedback", json={"message_id": chat.headers["x-message-id"], "rating": "down"})
    assert again.status_code == 201
    assert [row["rating"] for row in store.all()] == ["up", "down"]


def test_recording_replies_on_a_full_disk_logs_one_line_per_batch(fake_bot, tmp_path, monkeypatch, caplog):
    store = FeedbackStore(tmp_path / "data")
    store.add("up", question="q", answer="a")

    def record_replies(items):
        raise sa.exc.OperationalError("INSERT INTO replies ...", {}, DISK_FULL)

    monkeypatch.setattr(store.store, "record_replies", record_replies)
    client = TestClient(create_app(fake_bot, Settings().with_(data_dir=tmp_path / "data", rate_limit_per_minute=0),
                                   feedback=store))
    with caplog.at_level(logging.INFO):
        assert client.post("/api/chat", json={"message": QUESTION}).status_code == 200  # the reply is not held up
        store.flush()
    assert "Could not record 1 replies: the disk is full" in caplog.text
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(("error", "code"), [
    (sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("attempt to write a readonly database")),
     "storage_unavailable"),
    (StoreError("Cannot open the database sqlite:///data/feedback.sqlite3: unable to open database file"),
     "storage_unavailable"),
    (sa.exc.OperationalError("INSERT", {}, type("DiskFull", (Exception,), {"sqlstate": "53100"})(
        "could not extend file")), "storage_full"),  # PostgreSQL's disk_full
])
def test_other_storage_failures_are_a_503_too(fake_bot, tmp_path, monkeypatch, caplog, error, code):
    store = FeedbackStore(tmp_path / "data")

    def add_feedback(*args, **kwargs):
        raise error

    monkeypatch.setattr(store.store, "add_feedback", add_feedback)
    client = TestClient(create_app(fake_bot, Settings().with_(data_dir=tmp_path, rate_limit_per_minute=0),
                                   feedback=store), raise_server_exceptions=False)
    response = client.post("/api/feedback", json={"message_id": "abc", "rating": "up"})
    assert_error(response, 503, code)
    assert "readonly" not in response.text and "sqlite" not in response.text  # the cause is for the log
    assert "Feedback not stored" in caplog.text and not any(r.exc_info for r in caplog.records)


# --- 6. the schema says what the server enforces ---------------------------------------------
def schema_of(client: TestClient) -> dict:
    return client.get("/openapi.json").json()["components"]["schemas"]


def test_schema_limits_follow_the_settings(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, max_message_chars=300, max_history_turns=4, max_history_bytes=900,
                         max_comment_chars=50)
    schemas = schema_of(client)
    message = schemas["ChatRequest"]["properties"]["message"]
    assert (message["minLength"], message["maxLength"]) == (1, 300) and message["pattern"]
    history = schemas["ChatRequest"]["properties"]["history"]
    assert history["anyOf"][0]["maxItems"] == 4 and history["x-max-total-bytes"] == 900
    assert "900 bytes" in history["description"]
    feedback = schemas["FeedbackRequest"]
    assert feedback["properties"]["comment"]["anyOf"][0]["maxLength"] == 50
    assert feedback["properties"]["rating"]["enum"] == ["up", "down"]
    assert feedback["properties"]["message_id"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert [branch["required"] for branch in feedback["oneOf"]] == [["message_id"], ["question", "answer"]]


BODIES = [  # (path, body): bodies on both sides of every rule the schema states
    ("/api/chat", {"message": "x"}), ("/api/chat", {"message": ""}), ("/api/chat", {"message": " \t\n"}),
    ("/api/chat", {"message": "\u00a0\u2003\u3000"}), ("/api/chat", {"message": "\u00a0a"}),
    ("/api/chat", {"message": "\x1c\x1f\x85"}), ("/api/chat", {"message": "\ufeff"}),
    ("/api/chat", {"message": "x" * 2000}), ("/api/chat", {"message": "x" * 2001}),
    ("/api/chat", {"message": "hi", "history": None}), ("/api/chat", {"message": "hi", "history": []}),
    ("/api/chat", {"message": "hi", "history": [{"role": "user", "content": ""}] * 20}),
    ("/api/chat", {"message": "hi", "history": [{"role": "user", "content": ""}] * 21}),
    ("/api/chat", {"message": "hi", "history": [{"role": "bot", "content": ""}]}),
    ("/api/chat", {"message": "hi", "extra": 1}),
    ("/api/feedback", {"rating": "up", "message_id": "abc"}), ("/api/feedback", {"rating": "up", "message_id": ""}),
    ("/api/feedback", {"rating": "up", "message_id": "abc\n"}),
    ("/api/feedback", {"rating": "up", "message_id": "a/b"}),
    ("/api/feedback", {"rating": "up", "message_id": "a" * 64}),
    ("/api/feedback", {"rating": "up", "message_id": "a" * 65}),
    ("/api/feedback", {"rating": "up", "message_id": None}), ("/api/feedback", {"rating": "up"}),
    ("/api/feedback", {"rating": "meh", "message_id": "abc"}),
    ("/api/feedback", {"rating": "up", "question": "q", "answer": "a"}),
    ("/api/feedback", {"rating": "up", "question": "q", "answer": "a", "message_id": None}),
    ("/api/feedback", {"rating": "up", "question": "q", "answer": "a", "message_id": "abc"}),
    ("/api/feedback", {"rating": "up", "question": "q"}), ("/api/feedback", {"rating": "up", "answer": "a"}),
    ("/api/feedback", {"rating": "up", "question": " ", "answer": "a"}),
    ("/api/feedback", {"rating": "up", "question": "q", "answer": None}),
    ("/api/feedback", {"rating": "up", "message_id": "abc", "question": None, "answer": None}),
    ("/api/feedback", {"rating": "up", "message_id": "abc", "comment": None}),
    ("/api/feedback", {"rating": "up", "message_id": "abc", "comment": "c" * 1000}),
    ("/api/feedback", {"rating": "up", "message_id": "abc", "comment": "c" * 1001}),
]


@pytest.mark.parametrize(("path", "body"), BODIES)
def test_the_server_accepts_exactly_what_the_schema_allows(client, path, body):
    """A JSON Schema validator (the one Schemathesis uses) and the server agree on each body."""
    import jsonschema_rs

    schemas = schema_of(client)
    name = {"/api/chat": "ChatRequest", "/api/feedback": "FeedbackRequest"}[path]
    resolved = json.loads(json.dumps(schemas).replace("#/components/schemas/", "#/$defs/"))
    validator = jsonschema_rs.validator_for({**resolved[name], "$defs": resolved})
    response = client.post(path, json=body)
    assert response.status_code in (200, 201, 422), response.text
    assert validator.is_valid(body) == (response.status_code < 400), (body, response.text)
