"""Context, handled once for every sign (rules/triage_context.yaml): a sign's words count only
when they tell of something happening now. The rules alone, so each case shows one rule."""

from __future__ import annotations

import pytest

from chatbot.answer.triage import Triage


@pytest.fixture(scope="module")
def triage():
    return Triage.build(None)


def level(triage, message, history=None):
    return triage.run(message, history).level


@pytest.mark.parametrize(("sign", "negated"), [
    ("my foot is cold and pale", "my foot isn't cold or pale"),
    ("I have a fever and my ankle is hot and swollen", "no fever, my ankle is a bit swollen"),
    ("rolled my ankle and can't walk on it", "rolled my ankle but I can walk on it fine"),
    ("bone sticking out of my leg after the fall", "no bone is showing after the fall"),
    ("my calf is swollen and tender after the flight", "my calf is not swollen or tender after the flight"),
])
def test_negation(triage, sign, negated):
    assert level(triage, sign) is not None
    assert level(triage, negated) is None


@pytest.mark.parametrize(("now", "past"), [
    ("my foot went white and cold", "my foot went white and cold years ago, it's fine now"),
    ("I can see the bone in my ankle", "I could see the bone in my ankle when I broke it as a kid"),
    ("fever and a red, hot, swollen knee", "fever and a red, hot, swollen knee last year, it cleared up"),
])
def test_the_past(triage, now, past):
    assert level(triage, now) is not None
    assert level(triage, past) is None


def test_the_past_does_not_hide_what_is_back_now(triage):
    assert level(triage, "I had a DVT years ago and now my calf is swollen again after my flight") == "urgent"


@pytest.mark.parametrize("message", [
    "my friend had a blood clot in her calf after a flight",
    "I read on a forum that a pale cold foot can be an emergency",
    "a colleague once told me her achilles snapped playing squash",
])
def test_someone_elses_story_is_no_alarm(triage, message):
    assert level(triage, message) is None


@pytest.mark.parametrize("message", [
    "my dad's foot has gone blue and cold",
    "my wife is slurring her words",
    "my dad had a fall and his ankle is bent the wrong way",
])
def test_someone_elses_emergency_now_fires(triage, message):
    assert level(triage, message) == "emergency"


@pytest.mark.parametrize("message", [
    "what are the signs of a blood clot in the calf?",
    "when should I go to A&E if my foot goes cold and pale?",
    "what if my lips swell up after a bee sting?",
])
def test_a_general_question_gets_guidance_not_an_alarm(triage, message):
    result = triage.run(message)
    assert result.level is None
    assert result.reason == "general_question" and result.asked


def test_a_question_about_what_is_happening_now_is_no_general_question(triage):
    assert level(triage, "should I go to A&E? my calf is swollen and painful since the flight yesterday") == "urgent"


@pytest.mark.parametrize(("sign", "explained"), [
    ("my foot is cold and white", "my foot is cold and white after icing it for 20 minutes"),
    ("the skin on my ankle is purple", "the skin on my ankle is purple from the bruise, it's healing"),
    ("my toes are blue", "my toes are blue from the dye in my new socks"),
])
def test_a_harmless_cause_the_message_gives(triage, sign, explained):
    assert level(triage, sign) is not None
    assert level(triage, explained) is None


def test_a_harmless_cause_does_not_explain_a_sign_that_is_new_or_worse(triage):
    assert level(triage, "the GP said it was a sprain, but now my foot is cold and blue") == "emergency"


def test_a_circumstance_from_an_earlier_turn_counts(triage):
    history = [{"role": "user", "content": "I fell off a ladder this morning"},
               {"role": "assistant", "content": "I'm sorry to hear that."}]
    assert level(triage, "now my ankle looks deformed") is None
    assert level(triage, "now my ankle looks deformed", history) == "emergency"


def test_an_earlier_turn_alone_does_not_alarm_again(triage):
    history = [{"role": "user", "content": "my foot went cold and white an hour ago"}]
    assert level(triage, "thanks, what exercises help tendonitis?", history) is None


def test_typos_are_mended_towards_sign_words_only(triage):
    assert level(triage, "my calf is swolen and painfull after a long fligt") == "urgent"
    words = [w.text for w in triage.rules.read("please write about breeding").words]
    assert words == ["please", "write", "about", "breeding"]  # real words are left alone


def test_a_stroke_sign_in_an_ankle_question_fires(triage):
    result = triage.run("how long does ankle tendonitis take to heal? also my mum's face is drooping on one side")
    assert result.level == "emergency" and result.signs[0].id == "stroke-signs"
