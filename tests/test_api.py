"""The HTTP API, built with `create_app` and driven with FastAPI's TestClient (no server).

Most tests use `fake_bot` (deterministic, fast); the ones marked `model` use the real bot.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chatbot.answer.reply import Reply
from chatbot.config import Settings
from chatbot.serve.api import create_app
from chatbot.serve.ratelimit import RateLimiter, client_id

QUESTION = "What are the symptoms of tarsal tunnel syndrome?"
REPLY_FIELDS = {"answer", "body", "kind", "alert", "citations", "red_flags", "red_flags_heading", "red_flags_source",
                "notices", "disclaimer"}
CLINIC = "https://clinic.example"


def make_client(bot, tmp_path: Path, **changes) -> TestClient:
    settings = Settings().with_(data_dir=tmp_path / "data", **{"rate_limit_per_minute": 0, **changes})
    return TestClient(create_app(bot, settings))


@pytest.fixture(scope="module")
def client(fake_bot, tmp_path_factory) -> TestClient:
    return make_client(fake_bot, tmp_path_factory.mktemp("api"))


def events(text: str) -> list[tuple[str, dict]]:
    """Parse an SSE body into (event, data) pairs, checking the wire format as it goes."""
    parsed = []
    for block in text.split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        parsed.append((lines[0][7:], json.loads(lines[1][6:])))
    return parsed


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


# --- /api/chat and /api/chat/stream ------------------------------------------------------------
def test_chat_returns_exactly_the_reply_contract(client, fake_bot):
    response = client.post("/api/chat", json={"message": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == REPLY_FIELDS
    assert body == fake_bot.reply(QUESTION).to_dict()
    assert body["disclaimer"] in body["answer"] and all(flag in body["answer"] for flag in body["red_flags"])
    assert len(response.headers["x-message-id"]) == 32
    assert response.headers["content-type"] == "application/json"


def test_chat_takes_history_and_each_reply_gets_its_own_id(client):
    history = [{"role": "user", "content": "What is tarsal tunnel syndrome?"},
               {"role": "assistant", "content": "It is a nerve problem."}]
    first = client.post("/api/chat", json={"message": "How is it treated?", "history": history})
    second = client.post("/api/chat", json={"message": "How is it treated?", "history": None})
    assert first.status_code == second.status_code == 200
    assert first.headers["x-message-id"] != second.headers["x-message-id"]


def test_stream_sends_deltas_then_meta_then_reply(client, fake_bot):
    response = client.post("/api/chat/stream", json={"message": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    parsed = events(response.text)
    names = [name for name, _ in parsed]
    assert names[-2:] == ["meta", "reply"] and set(names[:-2]) == {"delta"} and len(names) >= 3
    reply = parsed[-1][1]
    assert set(reply) == REPLY_FIELDS and reply == fake_bot.reply(QUESTION).to_dict()
    assert "".join(data["text"] for name, data in parsed if name == "delta") == reply["answer"]
    assert parsed[-2][1] == {"message_id": response.headers["x-message-id"]}


def test_stream_failure_part_way_is_an_error_event(fake_bot, tmp_path):
    class Breaks:
        def __getattr__(self, name):
            return getattr(fake_bot, name)

        def stream(self, message, history=None):
            yield "The first line\n"
            raise RuntimeError("the index went away")

    response = make_client(Breaks(), tmp_path).post("/api/chat/stream", json={"message": QUESTION})
    assert response.status_code == 200
    parsed = events(response.text)
    assert parsed[0] == ("delta", {"text": "The first line\n"})
    assert parsed[-1][0] == "error" and parsed[-1][1]["error"]["code"] == "internal_error"
    assert "index" not in parsed[-1][1]["error"]["message"]  # internals stay in the log


@pytest.mark.parametrize(("failure", "status", "code"), [
    (RuntimeError("disk gone"), 500, "internal_error"),
    (__import__("chatbot.errors", fromlist=["InvalidInput"]).InvalidInput("invalid_history", "bad turn"), 422,
     "invalid_history"),
])
def test_stream_failure_before_the_first_piece_is_a_json_error(fake_bot, tmp_path, failure, status, code):
    class BreaksAtOnce:
        def __getattr__(self, name):
            return getattr(fake_bot, name)

        def stream(self, message, history=None):
            raise failure
            yield

    client = TestClient(create_app(BreaksAtOnce(), Settings().with_(data_dir=tmp_path)), raise_server_exceptions=False)
    response = client.post("/api/chat/stream", json={"message": QUESTION})
    assert_error(response, status, code)
    assert "disk" not in response.text


def test_sse_writes_what_is_ready_together_and_the_rest_later():
    import time

    import anyio

    from chatbot.serve.sse import pull, sse

    def slow():
        yield "one\n"
        yield "two\n"
        time.sleep(0.05)  # longer than the 20 ms budget: what is ready goes out first
        yield "three\n"
        time.sleep(0.05)
        yield Reply("one\ntwo\nthree\n", "answer")

    async def collect():
        events = slow()
        first = await anyio.to_thread.run_sync(pull, events)
        return [chunk async for chunk in sse(first, events, "m1", lambda reply: None, anyio.CapacityLimiter(1))]

    writes = anyio.run(collect)
    assert [[name for name, _ in events(w)] for w in writes] == [["delta", "delta", "delta"], ["meta", "reply"]]
    assert "".join(d["text"] for name, d in events("".join(writes)) if name == "delta") == "one\ntwo\nthree\n"


LIMIT = "x" * 2001
BAD_BODIES = [  # (body, status, code)
    ({"message": ""}, 422, "empty_message"),
    ({"message": " \n\t "}, 422, "empty_message"),
    ({"message": 3}, 422, "wrong_type"),
    ({"message": None}, 422, "wrong_type"),
    ({"message": ["a"]}, 422, "wrong_type"),
    ({}, 422, "missing_field"),
    ({"history": []}, 422, "missing_field"),
    ({"message": "hi", "user": "x"}, 422, "unknown_field"),
    ({"message": "hi", "history": "earlier"}, 422, "wrong_type"),
    ({"message": "hi", "history": ["earlier"]}, 422, "wrong_type"),
    ({"message": "hi", "history": [{"role": "user"}]}, 422, "missing_field"),
    ({"message": "hi", "history": [{"role": "user", "content": "a", "name": "x"}]}, 422, "unknown_field"),
    ({"message": "hi", "history": [{"role": "system", "content": "a"}]}, 422, "invalid_role"),
    ({"message": "hi", "history": [{"role": "tool", "content": "a"}]}, 422, "invalid_role"),
    ({"message": "hi", "history": [{"role": "user", "content": 5}]}, 422, "wrong_type"),
    ({"message": LIMIT}, 422, "message_too_long"),
    ({"message": "hi", "history": [{"role": "user", "content": "q"}] * 21}, 422, "history_too_long"),
    ({"message": "hi", "history": [{"role": "user", "content": "é" * 8193}]}, 422, "history_too_long"),
    ([{"message": "hi"}], 422, "wrong_type"),
    ("hi", 422, "wrong_type"),
]


@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream"])
@pytest.mark.parametrize(("body", "status", "code"), BAD_BODIES)
def test_bad_json_bodies_get_a_4xx_saying_what_is_wrong(client, path, body, status, code):
    response = client.post(path, json=body)
    assert_error(response, status, code)
    assert response.headers["content-type"] == "application/json"  # never SSE for a bad request


RAW_BODIES = [  # (bytes, content type, status, code)
    (b'{"message": "hi"', "application/json", 400, "invalid_json"),
    (b"", "application/json", 400, "invalid_json"),
    (b"message=hi", "application/json", 400, "invalid_json"),
    (b'{"message": "caf\xe9"}', "application/json", 400, "invalid_utf8"),
    (b'{"message": "\\ud800 pain"}', "application/json", 422, "invalid_text"),
    (b'{"message": NaN}', "application/json", 422, "wrong_type"),
    (b'{"message": "hi"}', "text/plain", 415, "unsupported_media_type"),
    (b'{"message": "hi"}', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"message": "hi"}', None, 415, "unsupported_media_type"),
]


@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream"])
@pytest.mark.parametrize(("body", "content_type", "status", "code"), RAW_BODIES)
def test_bad_raw_bodies_get_a_4xx(client, path, body, content_type, status, code):
    headers = {"content-type": content_type} if content_type else {}
    assert_error(client.post(path, content=body, headers=headers), status, code)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.clinic+json"])
def test_json_content_types_with_parameters_are_accepted(client, content_type):
    body = json.dumps({"message": QUESTION})
    response = client.post("/api/chat", content=body, headers={"content-type": content_type})
    assert response.status_code == 200


def test_limits_are_inclusive(client):
    assert client.post("/api/chat", json={"message": "x" * 2000}).status_code == 200
    history = [{"role": "user", "content": "q"}] * 20
    assert client.post("/api/chat", json={"message": "hi", "history": history}).status_code == 200


def test_limits_come_from_settings(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, max_message_chars=10, max_history_turns=1)
    assert_error(client.post("/api/chat", json={"message": "x" * 11}), 422, "message_too_long")
    two = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert_error(client.post("/api/chat", json={"message": "hi", "history": two}), 422, "history_too_long")


@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream", "/api/feedback"])
def test_body_over_the_limit_is_413_by_content_length(client, path):
    body = json.dumps({"message": "x" * 70_000})
    assert_error(client.post(path, content=body, headers={"content-type": "application/json"}), 413, "body_too_large")


def test_body_over_the_limit_is_413_when_chunked_without_length(client):
    def chunks():
        for _ in range(200):
            yield b" " * 1024

    response = client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body_too_large")


def test_an_endless_body_is_read_only_up_to_the_limit(client):
    """At the ASGI level (TestClient would buffer the whole body first): 1 KB pieces, never ending."""
    import anyio

    received, sent = [], []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b" " * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/chat", "raw_path": b"/api/chat", "root_path": "", "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
    }
    anyio.run(client.app, scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "body_too_large"
    assert len(received) <= 65  # 64 KB and one more piece, then it stopped reading


def test_a_small_chunked_body_is_read_whole(client):
    def chunks():
        yield b'{"message": '
        yield json.dumps(QUESTION).encode()
        yield b"}"

    assert client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"}).status_code == 200


ODD_BUT_VALID = [
    "my ankle hurts 😣🦶",
    "¿Por qué me duele el tobillo por dentro?",
    "足首の内側が痛いです",
    "لماذا يؤلمني كاحلي",
    "pain\x00behind\x07the\x1bankle",
    "zero\u200bwidth\u200djoiner\ufeff",
    "<script>alert(1)</script> tarsal tunnel?",
    "???",
    "a" * 2000,
    "ＴＡＲＳＡＬ ＴＵＮＮＥＬ",
    "tarsal\r\ntunnel\r\nsymptoms",
]


@pytest.mark.parametrize("message", ODD_BUT_VALID)
def test_odd_but_valid_messages_get_a_normal_reply(client, message):
    response = client.post("/api/chat", json={"message": message})
    assert response.status_code == 200
    assert set(response.json()) == REPLY_FIELDS


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["message", "history", "role", "content", "x"]) | st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
))
def test_no_json_body_gets_a_5xx(client, body):
    response = client.post("/api/chat", json=body)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message"}


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_no_byte_string_gets_a_5xx(client, body):
    response = client.post("/api/chat/stream", content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text


# --- routes that do not exist, methods that are not allowed -------------------------------------
def test_unknown_api_route_is_404_in_the_error_shape(client):
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.post("/api/chat/extra", json={"message": "hi"}), 404, "not_found")


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/api/chat", "POST"), ("PUT", "/api/chat/stream", "POST"), ("DELETE", "/api/feedback", "POST"),
    ("POST", "/healthz", "GET, HEAD"),
])
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    response = client.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed


# --- feedback --------------------------------------------------------------------------------
def rows(data_dir: Path) -> list[dict]:
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM feedback ORDER BY id")]


def test_feedback_by_message_id_is_stored_with_its_reply(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path)
    assert not (tmp_path / "data").exists()  # created on demand
    chat = client.post("/api/chat", json={"message": QUESTION})
    response = client.post("/api/feedback", json={
        "message_id": chat.headers["x-message-id"], "rating": "down", "comment": "Too long"})
    assert response.status_code == 201 and response.json() == {"status": "stored"}
    [row] = rows(tmp_path / "data")
    assert row["rating"] == "down" and row["comment"] == "Too long" and row["source"] == "api"
    assert row["message_id"] == chat.headers["x-message-id"]
    assert row["question"] == QUESTION and row["answer"] == chat.json()["answer"] and row["kind"] == "answer"


def test_feedback_by_streamed_message_id_and_by_question_and_answer(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path)
    stream = client.post("/api/chat/stream", json={"message": QUESTION})
    assert client.post("/api/feedback", json={"message_id": stream.headers["x-message-id"], "rating": "up"}
                       ).status_code == 201
    assert client.post("/api/feedback", json={"question": "q?", "answer": "a.", "rating": "up"}).status_code == 201
    assert client.post("/api/feedback", json={"message_id": "not-seen-here", "rating": "up"}).status_code == 201
    stored = rows(tmp_path / "data")
    assert [r["question"] for r in stored] == [QUESTION, "q?", None]
    assert stored[0]["answer"] == events(stream.text)[-1][1]["answer"]


def test_feedback_stores_no_ip_address_or_other_client_data(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, trust_proxy_headers=True)
    headers = {"X-Forwarded-For": "203.0.113.77", "User-Agent": "Browser/9.9 (secret-agent)"}
    client.post("/api/feedback", json={"question": "q?", "answer": "a.", "rating": "up"}, headers=headers)
    db = tmp_path / "data" / "feedback.sqlite3"
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(feedback)")]
    assert columns == ["id", "created_at", "rating", "comment", "message_id", "question", "answer", "kind", "source",
                       "sections"]
    raw = db.read_bytes()
    for trace in (b"203.0.113.77", b"testclient", b"secret-agent", b"127.0.0.1"):
        assert trace not in raw


BAD_FEEDBACK = [
    ({"message_id": "abc"}, "missing_field"),
    ({"message_id": "abc", "rating": "meh"}, "invalid_value"),
    ({"message_id": "abc", "rating": 1}, "invalid_value"),
    ({"rating": "up"}, "invalid_feedback"),
    ({"rating": "up", "message_id": "abc", "question": "q", "answer": "a"}, "invalid_feedback"),
    ({"rating": "up", "question": "q"}, "invalid_feedback"),
    ({"rating": "up", "question": " ", "answer": "a"}, "invalid_feedback"),
    ({"rating": "up", "message_id": "../../etc"}, "invalid_message_id"),
    ({"rating": "up", "message_id": "abc", "comment": "c" * 1001}, "comment_too_long"),
    ({"rating": "up", "question": "q" * 2001, "answer": "a"}, "question_too_long"),
    ({"rating": "up", "message_id": "abc", "ip": "1.2.3.4"}, "unknown_field"),
    ({"rating": "up", "message_id": 5}, "wrong_type"),
]


@pytest.mark.parametrize(("body", "code"), BAD_FEEDBACK)
def test_bad_feedback_gets_a_422_and_stores_nothing(fake_bot, tmp_path, body, code):
    client = make_client(fake_bot, tmp_path)
    assert_error(client.post("/api/feedback", json=body), 422, code)
    assert not (tmp_path / "data" / "feedback.sqlite3").exists()


# --- rate limiting ---------------------------------------------------------------------------
def test_rate_limit_gives_429_with_retry_after(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, rate_limit_per_minute=6, rate_limit_burst=3)
    statuses = [client.post("/api/chat", json={"message": "hi"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = client.post("/api/chat/stream", json={"message": "hi"})
    error = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["retry-after"]) <= 10
    assert response.headers["retry-after"] in error["message"]
    assert_error(client.post("/api/feedback", json={"rating": "up", "message_id": "a"}), 429, "rate_limited")
    assert client.get("/healthz").status_code == 200  # health checks are never limited


def test_rate_limit_is_per_client_and_trusts_forwarded_for_only_when_told(fake_bot, tmp_path):
    def status(client, address: str) -> int:
        return client.post("/api/chat", json={"message": "hi"}, headers={"X-Forwarded-For": address}).status_code

    trusting = make_client(fake_bot, tmp_path / "a", rate_limit_per_minute=6, rate_limit_burst=1,
                           trust_proxy_headers=True)
    assert [status(trusting, a) for a in ("10.0.0.1", "10.0.0.2", "10.0.0.1")] == [200, 200, 429]
    plain = make_client(fake_bot, tmp_path / "b", rate_limit_per_minute=6, rate_limit_burst=1)
    assert [status(plain, a) for a in ("10.0.0.1", "10.0.0.2")] == [200, 429]


def test_token_bucket_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.take("a")[0] for _ in range(3)] == [True, True, False]
    assert limiter.take("a") == (False, 1)
    now[0] += 1.0
    assert limiter.take("a") == (True, 0)
    assert limiter.take("b") == (True, 0)  # another client has its own bucket


def test_token_bucket_memory_stays_bounded():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=5, max_clients=100, clock=lambda: now[0])
    for i in range(10_000):
        limiter.take(f"10.0.{i // 250}.{i % 250}")
        now[0] += 0.001
    assert len(limiter) <= 101
    now[0] += 3600  # everyone idle for an hour: all buckets full again, so all forgotten
    limiter.take("one more")
    assert len(limiter) == 1


def test_client_id_takes_the_last_forwarded_address():
    headers = {"x-forwarded-for": "1.1.1.1, 2.2.2.2"}
    assert client_id(headers, "127.0.0.1", trust_proxy_headers=True) == "2.2.2.2"
    assert client_id(headers, "127.0.0.1", trust_proxy_headers=False) == "127.0.0.1"
    assert client_id({}, "127.0.0.1", trust_proxy_headers=True) == "127.0.0.1"


def test_disabled_rate_limit_allows_everything():
    limiter = RateLimiter(per_minute=0, burst=1)
    assert all(limiter.take("a")[0] for _ in range(100)) and len(limiter) == 0


# --- CORS ------------------------------------------------------------------------------------
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


def test_cors_allows_configured_origins_on_the_api(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, allowed_origins=(CLINIC,))
    preflight = client.options("/api/chat/stream", headers={"Origin": CLINIC, **PREFLIGHT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == CLINIC
    assert "POST" in preflight.headers["access-control-allow-methods"]
    response = client.post("/api/chat", json={"message": QUESTION}, headers={"Origin": CLINIC})
    assert response.headers["access-control-allow-origin"] == CLINIC
    assert "x-message-id" in response.headers["access-control-expose-headers"].lower()


def test_cors_refuses_other_origins(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, allowed_origins=(CLINIC,))
    preflight = client.options("/api/chat/stream", headers={"Origin": "https://elsewhere.example", **PREFLIGHT})
    assert_error(preflight, 403, "cors_rejected")
    response = client.post("/api/chat", json={"message": "hi"}, headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers


def test_no_cors_by_default_and_none_outside_the_api(fake_bot, tmp_path):
    default = make_client(fake_bot, tmp_path / "a")
    response = default.post("/api/chat", json={"message": "hi"}, headers={"Origin": CLINIC})
    assert "access-control-allow-origin" not in response.headers
    assert default.options("/api/chat", headers={"Origin": CLINIC, **PREFLIGHT}).status_code >= 400
    configured = make_client(fake_bot, tmp_path / "b", allowed_origins=(CLINIC,))
    assert "access-control-allow-origin" not in configured.get("/healthz", headers={"Origin": CLINIC}).headers


# --- security headers ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/healthz", "/api/nothing", "/docs"])
def test_security_headers_everywhere(client, path):
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp and "default-src 'self'" in csp
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_security_headers_on_api_replies(client):
    headers = client.post("/api/chat", json={"message": "hi"}).headers
    assert "frame-ancestors" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("ancestors", "csp", "frame_options"), [
    (("'none'",), "frame-ancestors 'none'", "DENY"),
    (("'self'", CLINIC), f"frame-ancestors 'self' {CLINIC}", None),
    (("https://a.example; script-src *",), "frame-ancestors 'none'", "DENY"),  # no directive injection
])
def test_frame_ancestors_follow_settings(fake_bot, tmp_path, ancestors, csp, frame_options):
    headers = make_client(fake_bot, tmp_path, frame_ancestors=ancestors).get("/healthz").headers
    assert headers["content-security-policy"].endswith(csp)
    assert headers.get("x-frame-options") == frame_options


# --- health, docs, page -----------------------------------------------------------------------
def test_healthz_answers_head_for_load_balancers(client):
    assert client.head("/healthz").status_code == 200


def test_healthz_reports_the_index(client, fake_bot):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["chunks"] == len(fake_bot.index.chunks)
    assert body["model"] == fake_bot.index.summary()["model"]
    assert body["corpus_fingerprint"] == fake_bot.index.summary()["corpus_fingerprint"]


def test_openapi_describes_every_route(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/chat", "/api/chat/stream", "/api/feedback", "/healthz"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"ChatRequest", "HistoryTurn", "FeedbackRequest", "ReplyOut", "ErrorOut"} <= set(schemas)
    assert schemas["ChatRequest"]["examples"]
    chat = spec["paths"]["/api/chat"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatRequest")
    assert {"200", "400", "413", "415", "422", "429"} <= set(chat["responses"])
    assert "text/event-stream" in spec["paths"]["/api/chat/stream"]["post"]["responses"]["200"]["content"]


def test_docs_page_works_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    assert "cdn.jsdelivr.net" not in page.text
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_chat_page_is_served_at_root(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_widget_routes_are_included_when_the_module_exists(client):
    import importlib.util

    status = client.get("/widget.js").status_code
    assert status == (200 if importlib.util.find_spec("chatbot.serve.widget") else 404)


# --- with the real model ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_client(bot, tmp_path_factory) -> TestClient:
    return make_client(bot, tmp_path_factory.mktemp("real"))


@pytest.mark.model
def test_real_bot_answers_with_citations(real_client):
    body = real_client.post("/api/chat", json={"message": QUESTION}).json()
    assert body["kind"] == "answer" and body["citations"]
    assert any("Tarsal Tunnel" in c["section"] for c in body["citations"])


@pytest.mark.model
def test_real_bot_stream_joins_to_its_reply(real_client):
    parsed = events(real_client.post("/api/chat/stream", json={"message": "how is PTTD treated?"}).text)
    reply = parsed[-1][1]
    assert "".join(d["text"] for name, d in parsed if name == "delta") == reply["answer"]
    assert reply["disclaimer"] and reply["red_flags"]


@pytest.mark.model
@pytest.mark.parametrize("message", ["my ankle hurts 😣", "¿Por qué me duele el tobillo?", "\x00\x01", "🦶" * 500])
def test_real_bot_takes_odd_input(real_client, message):
    assert real_client.post("/api/chat", json={"message": message}).status_code == 200


@pytest.mark.model
def test_real_bot_emergency_is_flagged(real_client):
    body = real_client.post("/api/chat", json={"message": "my calf is swollen and I suddenly can't breathe"}).json()
    assert body["kind"] == "emergency"


def test_serving_settings_come_from_the_environment(fake_bot, tmp_path):
    settings = Settings.load(env={
        "CHATBOT_ALLOWED_ORIGINS": f"{CLINIC}, https://other.example", "CHATBOT_RATE_LIMIT_PER_MINUTE": "0",
        "CHATBOT_MAX_MESSAGE_CHARS": "50", "CHATBOT_MAX_COMMENT_CHARS": "5", "CHATBOT_REPLY_THREADS": "1",
        "CHATBOT_DATA_DIR": str(tmp_path / "data"), "CHATBOT_FRAME_ANCESTORS": f"'self',{CLINIC}",
    })
    assert settings.allowed_origins == (CLINIC, "https://other.example") and settings.reply_threads == 1
    client = TestClient(create_app(fake_bot, settings))
    response = client.post("/api/chat", json={"message": "hi"}, headers={"Origin": "https://other.example"})
    assert response.headers["access-control-allow-origin"] == "https://other.example"
    assert response.headers["content-security-policy"].endswith(f"frame-ancestors 'self' {CLINIC}")
    assert_error(client.post("/api/chat", json={"message": "x" * 51}), 422, "message_too_long")
    assert_error(client.post("/api/feedback", json={"rating": "up", "message_id": "a", "comment": "123456"}),
                 422, "comment_too_long")
