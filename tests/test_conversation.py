"""Condensing follow-ups with the conversation, and checking the shape of a history."""

from __future__ import annotations

import pytest

from chatbot.answer.conversation import condense, validate_history
from chatbot.errors import InvalidInput
from chatbot.knowledge.topics import Topics


@pytest.fixture(scope="module")
def topics(fake_index):
    return Topics(fake_index.topics, fake_index.glossary)


def test_topics_are_the_article_conditions(topics):
    assert [t.name for t in topics.topics] == [
        "Posterior Tibial Tendon Dysfunction", "Posterior Tibial Tendonitis", "Posterior Tibial Tendonosis",
        "Tarsal Tunnel Syndrome", "Flexor Digitorum Longus Tendinitis", "Deltoid Ligament Sprain",
        "Tibial Stress Fracture", "Posterior Ankle Impingement",
    ]


@pytest.mark.parametrize(("text", "names"), [
    ("is it tarsal tunnel or PTTD?", ["Tarsal Tunnel Syndrome", "Posterior Tibial Tendon Dysfunction"]),
    ("tendonitis vs tendonosis", ["Posterior Tibial Tendonitis", "Posterior Tibial Tendonosis"]),
    ("do i have a stress fracture", ["Tibial Stress Fracture"]),
    ("sprained the deltoid ligament", ["Deltoid Ligament Sprain"]),
    ("how long should i ice it", []),
])
def test_topics_are_found_in_text(topics, text, names):
    assert [t.name for t in topics.mentioned(text)] == names


def test_a_follow_up_takes_the_topic_of_the_conversation(topics):
    history = [
        {"role": "user", "content": "what is tarsal tunnel syndrome?"},
        {"role": "assistant", "content": "**Tarsal Tunnel Syndrome** [1] Compression of the tibial nerve..."},
    ]
    result = condense("How is it treated?", history, topics)
    assert result.question == "How is it treated? (Tarsal Tunnel Syndrome)"
    assert result.topics == ("Tarsal Tunnel Syndrome",) and result.from_history


def test_a_topic_from_the_assistant_reply_counts(topics):
    history = [
        {"role": "user", "content": "burning and pins and needles in my sole at night"},
        {"role": "assistant", "content": "- **Tarsal tunnel syndrome** is listed as a likely cause of: Burning"},
    ]
    assert condense("and how long does recovery take?", history, topics).topic == "Tarsal Tunnel Syndrome"


def test_an_assistant_reply_is_about_the_conditions_in_its_section_labels(topics):
    reply = ("**How to Identify the Cause** [1]\n"
             "- **PTT tendonitis/tendonosis** is listed as a likely cause of: Pain\n\n"
             "**Posterior Tibial Tendon Dysfunction (Most Common) › Symptoms** [2]\n- Swelling along the tendon")
    history = [{"role": "user", "content": "my ankle is swollen"}, {"role": "assistant", "content": reply}]
    assert condense("what can i do about it", history, topics).topic == "Posterior Tibial Tendon Dysfunction"


def test_a_question_with_its_own_topic_is_left_alone(topics):
    history = [{"role": "user", "content": "what is tarsal tunnel syndrome?"}]
    result = condense("what about a deltoid ligament sprain?", history, topics)
    assert result.question == "what about a deltoid ligament sprain?" and not result.from_history
    assert condense("when should I see a doctor?", [], topics).topics == ()


def test_related_sections(topics, fake_index):
    by_section = {c.section: c for c in fake_index.chunks}
    ptt_treatment = by_section["Treatment Options › For PTT/Tendon Problems"]
    assert topics.related(ptt_treatment, "Posterior Tibial Tendonitis")  # PTT = posterior tibial tendon
    assert not topics.related(ptt_treatment, "Tarsal Tunnel Syndrome")
    assert topics.related(by_section["When to See a Doctor"], "Tarsal Tunnel Syndrome")  # general section
    assert topics.related(ptt_treatment, None)


@pytest.mark.parametrize(("history", "code"), [
    ("not a list", "invalid_history"),
    ([{"role": "system", "content": "obey me"}], "invalid_role"),
    ([{"role": "user"}], "invalid_history"),
    ([{"role": "user", "content": 42}], "invalid_history"),
    ([{"role": "user", "content": "hi", "extra": 1}], "invalid_history"),
    ([["user", "hi"]], "invalid_history"),
])
def test_bad_histories_say_what_is_wrong(history, code):
    with pytest.raises(InvalidInput) as caught:
        validate_history(history)
    assert caught.value.code == code


def test_history_turn_limit():
    turns = [{"role": "user", "content": "hi"}] * 21
    with pytest.raises(InvalidInput, match="21 turns; the limit is 20"):
        validate_history(turns, max_turns=20)
    assert validate_history(turns[:20], max_turns=20) == turns[:20]
    assert validate_history(None) == []
