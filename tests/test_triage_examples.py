"""Every sign's examples are test cases (parametrized from rules/triage/*.yaml), and fired
examples keep firing when they are buried in a story, lowercased and mistyped."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot.answer.triage import Triage
from chatbot.answer.triage_signs import load_signs
from chatbot.answer.triage_text import vocabulary

BOOK = load_signs()
FIRE = [(s.id, e) for s in BOOK.signs for e in s.fire]
NO_FIRE = [(s.id, e) for s in BOOK.signs for e in s.no_fire] + [("ordinary", e) for e in BOOK.ordinary]


def _id(item) -> str:
    sign, example = item
    return f"{sign}:{example.message[:40]}"


@pytest.fixture(scope="module")
def results(bot):
    """Every example through the bot's triage (rules and the detector), embedded in one batch."""
    items = FIRE + NO_FIRE
    out = bot.triage.run_many([(e.message, list(e.history)) for _, e in items])
    return {id(example): result for (_, example), result in zip(items, out, strict=True)}


@pytest.fixture(scope="module")
def floor():
    return Triage.build(None)  # the rules alone


@pytest.mark.model
@pytest.mark.parametrize("item", FIRE, ids=_id)
def test_fire_examples_fire_their_sign(results, item):
    sign, example = item
    result = results[id(example)]
    assert sign in {h.id for h in result.signs}, result


@pytest.mark.model
@pytest.mark.parametrize("item", NO_FIRE, ids=_id)
def test_look_alikes_raise_no_alarm(results, item):
    _, example = item
    assert results[id(example)].level is None, results[id(example)]


@pytest.mark.parametrize("item", NO_FIRE, ids=_id)
def test_the_rules_alone_raise_no_alarm_on_look_alikes(floor, item):
    # The detector can add an alarm but never remove one: the floor must be quiet by itself.
    _, example = item
    assert floor.run(example.message, list(example.history)).level is None


# --- the same signs, as people really type them ----------------------------------------
OPENERS = ["", "Sorry for the long message. ", "ok so ", "Hi, I need some advice please. ",
           "So we were at home having dinner with the kids and then ", "Not sure this is the right place but ",
           "My partner told me to ask here. "]
CLOSERS = ["", " what should i do?", " Is this serious?", " Anyway, also wondering about insoles.",
           " thanks in advance", " I don't want to waste anyone's time."]
VOCABULARY = vocabulary()


@st.composite
def typed(draw, message: str) -> str:
    text = draw(st.sampled_from(OPENERS)) + message + draw(st.sampled_from(CLOSERS))
    if draw(st.booleans()):
        text = text.lower()
    words = text.split(" ")
    # One slip of the finger in a long word, unless it makes another real word ("form" from "from").
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if long and draw(st.booleans()):
        i = draw(st.sampled_from(long))
        word = words[i]
        at = draw(st.integers(1, len(word) - 3))
        slip = draw(st.sampled_from([
            word[:at] + word[at + 1] + word[at] + word[at + 2:],  # swapped
            word[:at] + word[at + 1:],  # dropped
            word[:at] + word[at] + word[at:],  # doubled
        ]))
        if slip.lower() not in VOCABULARY:
            words[i] = slip
    return " ".join(words)


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fired_examples_still_fire_when_typed_as_people_type(floor, data):
    sign, example = data.draw(st.sampled_from([(s, e) for s, e in FIRE if not e.history]))
    text = data.draw(typed(example.message))
    result = floor.run(text)
    assert sign in {h.id for h in result.signs}, (text, result)
