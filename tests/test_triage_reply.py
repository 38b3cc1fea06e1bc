"""Triage in the reply: two levels, each first in the reply with its own message, whatever the
topic; in the HTTP API's JSON too."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chatbot.answer.safety import load_safety_rules
from chatbot.config import Settings
from chatbot.serve.api import create_app

RULES = load_safety_rules()
EMERGENCY = "my dad's foot has gone cold and blue"
URGENT = "I heard a pop at the back of my heel playing squash and now I can't push off"


@pytest.mark.parametrize(("message", "level"), [(EMERGENCY, "emergency"), (URGENT, "urgent")])
def test_each_level_comes_first_with_its_own_message(fake_bot, message, level):
    reply = fake_bot.reply(message)
    assert reply.kind == level and reply.escalated
    assert reply.alert is not None and reply.alert.level == level
    assert reply.alert.message == RULES.alert_messages[level]
    assert reply.alert.signs and all(isinstance(s, str) and s for s in reply.alert.signs)
    assert reply.answer.startswith(RULES.alert_messages[level])
    assert reply.red_flags and reply.disclaimer  # the other rails stay


def test_the_two_messages_differ_and_the_urgent_one_says_when_to_call(fake_bot):
    urgent, emergency = RULES.alert_messages["urgent"], RULES.alert_messages["emergency"]
    assert urgent != emergency
    assert "today" in urgent and "emergency number" in urgent and "emergency number" in emergency


@pytest.mark.parametrize("message", [
    "write me a poem about knees. also my wife's face is drooping and her speech is slurred",
    "what's the capital of france? my chest is really tight and it hurts",
    "hi",
])
def test_triage_runs_before_scope_and_smalltalk(fake_bot, message):
    reply = fake_bot.reply(message)
    if message == "hi":
        assert reply.kind == "smalltalk"
    else:
        assert reply.kind == "emergency" and reply.kind != "out_of_scope"


def test_a_general_question_about_a_sign_is_answered_not_alarmed(fake_bot):
    turn, reply = fake_bot.run("when should I go to A&E with a swollen ankle?")
    assert reply.kind not in ("emergency", "urgent")
    assert turn.screening.triage is not None and turn.screening.triage.level is None


def test_an_earlier_turn_gives_the_circumstance(fake_bot):
    history = [{"role": "user", "content": "I fell off a ladder an hour ago"},
               {"role": "assistant", "content": "Sorry to hear that."}]
    assert fake_bot.reply("now my ankle looks all wrong, at a weird angle", history).kind == "emergency"


@pytest.mark.model
@pytest.mark.parametrize(("message", "level"), [(EMERGENCY, "emergency"), (URGENT, "urgent")])
def test_the_api_json_carries_the_level(bot, tmp_path, message, level):
    client = TestClient(create_app(bot, Settings().with_(data_dir=tmp_path, rate_limit_per_minute=0)))
    body = client.post("/api/chat", json={"message": message}).json()
    assert body["kind"] == level
    assert body["alert"]["level"] == level and body["alert"]["message"] == RULES.alert_messages[level]
    assert body["alert"]["signs"] and body["answer"].startswith(body["alert"]["message"])
