"""`chatbot eval --url` against a server with a tight rate limit: it waits as Retry-After asks,
retries, shows the waiting, and counts what still fails as errors, never as wrong answers."""

from __future__ import annotations

import functools
import io
import json

import httpx
import pytest
from fastapi.testclient import TestClient

import chatbot.evals.targets as targets
import chatbot.serve.api as api
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.evals.runner import evaluate, run_cases
from chatbot.evals.sets import load_set
from chatbot.evals.targets import HttpTarget, InProcessTarget, retry_after
from chatbot.serve.ratelimit import RateLimiter
from tests.test_eval_runner import SET

K = 5


class Clock:
    """Time for the server's rate limiter, moved on only by the client's waiting."""

    def __init__(self) -> None:
        self.now, self.slept = 1000.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def suite(tmp_path, fake_index):
    path = tmp_path / "set.yaml"
    path.write_text(SET, encoding="utf-8")  # six cases, one a conversation: seven requests
    return [load_set(path, fake_index.chunks)]


def limited_target(fake_bot, tmp_path, monkeypatch, per_minute: int, burst: int) -> tuple[HttpTarget, Clock]:
    """The real API (create_app) with its rate limit on a clock the client's waits move."""
    clock = Clock()
    monkeypatch.setattr(api, "RateLimiter", functools.partial(RateLimiter, clock=clock))
    settings = Settings().with_(data_dir=tmp_path / "data", rate_limit_per_minute=per_minute, rate_limit_burst=burst)
    client = TestClient(api.create_app(fake_bot, settings))
    return HttpTarget("http://testserver", client=client, sleep=clock.sleep), clock


def test_a_rate_limited_run_waits_and_gets_every_reply(fake_bot, fake_index, suite, tmp_path, monkeypatch):
    target, clock = limited_target(fake_bot, tmp_path, monkeypatch, per_minute=30, burst=2)
    monkeypatch.setattr(targets.time, "perf_counter", clock)  # latencies on the same clock as the waits
    run = evaluate(target, suite, fake_index.chunks, fake_index.manifest, K, progress=False)
    local = evaluate(InProcessTarget(fake_bot), suite, fake_index.chunks, fake_index.manifest, K, progress=False)
    assert run.stats["errors"].value == 0
    assert [r.outcome.reply for r in run.results] == [r.outcome.reply for r in local.results]
    assert [r.passed for r in run.results] == [r.passed for r in local.results]
    assert clock.slept and set(clock.slept) == {2.0}  # Retry-After: 2 at 30 a minute, as the server said
    assert target.waits == len(clock.slept) and target.waited == sum(clock.slept)
    assert {r.outcome.latency_ms for r in run.results} == {0.0}  # the waiting is not the reply's latency


def test_the_progress_bar_says_it_is_waiting(fake_bot, suite, tmp_path, monkeypatch, fake_index):
    from chatbot.evals.judge import Context

    target, _ = limited_target(fake_bot, tmp_path, monkeypatch, per_minute=30, burst=1)
    seen = []
    target.sleep = lambda seconds: seen.append(seconds)  # no time passes: the server keeps saying wait
    stream = io.StringIO()
    import chatbot.evals.runner as runner

    monkeypatch.setattr(runner.sys, "stderr", stream)
    target.max_wait = 5
    results = run_cases(target, suite, Context.from_chunks(fake_index.chunks, K), progress=True)
    assert "HTTP 429, server asks to wait: waiting 2 s" in stream.getvalue()
    failed = [r for r in results if r.got == "error"]
    assert failed and all(r.checks[0].name == "reply" and len(r.checks) == 1 for r in failed)
    assert "HTTP 429 rate_limited" in failed[0].checks[0].detail and "after waiting 4 s" in failed[0].checks[0].detail


def test_a_wait_longer_than_the_bound_is_not_waited(fake_bot, tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"},
                              json={"error": {"code": "rate_limited", "message": "try again in an hour"}})

    slept = []
    target = HttpTarget("http://bot.test", client=httpx.Client(transport=httpx.MockTransport(handler)),
                        sleep=slept.append)
    outcome = target.send("hi", [])
    assert slept == [] and outcome.reply is None
    assert outcome.error == "HTTP 429 rate_limited: try again in an hour"


def test_transport_errors_and_5xx_are_errors_of_that_case_only(fake_bot):
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        message = json.loads(request.content)["message"]
        asked.append(message)
        if message == "hang":
            raise httpx.ReadTimeout("timed out", request=request)
        if message == "reset once" and asked.count(message) == 1:
            raise httpx.RemoteProtocolError("connection reset", request=request)
        if message == "crash":
            return httpx.Response(500, json={"error": {"code": "internal_error", "message": "something went wrong"}})
        return httpx.Response(200, json=fake_bot.reply(message).to_dict())

    slept = []
    target = HttpTarget("http://bot.test", client=httpx.Client(transport=httpx.MockTransport(handler)),
                        sleep=slept.append)
    assert target.send("what is pttd", []).reply is not None  # reached: later failures are the case's own
    hung = target.send("hang", [])
    assert hung.reply is None and hung.error == "transport error: ReadTimeout: timed out"
    assert target.send("reset once", []).reply is not None  # tried again after one failure
    crashed = target.send("crash", [])
    assert crashed.error == "HTTP 500 internal_error: something went wrong"
    assert slept == [1.0, 1.0]
    assert asked == ["what is pttd", "hang", "hang", "reset once", "reset once", "crash"]


def test_no_server_at_all_still_stops_the_run():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    target = HttpTarget("http://127.0.0.1:9", client=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(ChatbotError, match="Cannot reach"):
        target.send("hi", [])


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), ("0", 0.0), ("", None), ("soon", None),
                                                 ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_reads_seconds_and_dates(header, seconds):
    response = httpx.Response(429, headers={"Retry-After": header} if header else {})
    assert retry_after(response) == seconds
