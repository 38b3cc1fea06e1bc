"""A library of articles: each question is answered from its own article, with that article's
red flags, and citations that name it (real model: this is about retrieval quality)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.bot import Chatbot
from chatbot.knowledge.corpus import load_corpus
from chatbot.search.indexing import build_index

CORPORA = Path(__file__).parent / "data" / "corpora"
pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def split_bot(embedder):
    return Chatbot(build_index(load_corpus(CORPORA / "split"), embedder), embedder)


@pytest.fixture(scope="module")
def mixed_bot(embedder):
    return Chatbot(build_index(load_corpus(CORPORA / "bicycle-plus-seed"), embedder), embedder)


@pytest.mark.parametrize(("question", "article"), [
    ("burning and tingling in the sole of my foot at night", "tarsal-tunnel-syndrome"),
    ("how is tarsal tunnel syndrome treated?", "tarsal-tunnel-syndrome"),
    ("my arch is slowly flattening and it hurts behind the ankle bone", "posterior-tibial-tendon-problems"),
    ("what are the symptoms of posterior tibial tendonosis", "posterior-tibial-tendon-problems"),
    ("i twisted my ankle and the inside is bruised and swollen", "ligament-sprains-and-stress-fractures"),
    ("how long do you rest a stress fracture", "ligament-sprains-and-stress-fractures"),
])
def test_a_question_is_answered_from_its_own_article(split_bot, question, article):
    reply = split_bot.reply(question)
    assert reply.kind == "answer" and reply.citations
    assert reply.citations[0].article_id == article
    assert all(c.label.startswith(f"{c.article_title}: ") or c.label == c.article_title for c in reply.citations)


def test_red_flags_come_from_the_cited_article_or_else_are_the_generic_ones(split_bot):
    tts = split_bot.reply("what are the symptoms of tarsal tunnel syndrome?")
    assert tts.red_flags_source == ["tarsal-tunnel-syndrome"]
    assert set(tts.red_flags) <= set(split_bot.red_flags.by_article["tarsal-tunnel-syndrome"].flags)
    sprain = split_bot.reply("what are the symptoms of a deltoid ligament sprain?")
    assert sprain.citations[0].article_id == "ligament-sprains-and-stress-fractures"
    assert sprain.red_flags_source == [] and sprain.red_flags == split_bot.red_flags.generic[:4]


def test_a_bicycle_question_next_to_the_ankle_article_gets_the_bicycle_article(mixed_bot):
    bike = mixed_bot.reply("my brakes squeal and the lever comes back to the handlebar")
    assert bike.kind == "answer" and {c.article_id for c in bike.citations} == {"looking-after-your-bicycle"}
    assert bike.red_flags_source == ["looking-after-your-bicycle"]
    ankle = mixed_bot.reply("how is tarsal tunnel syndrome treated?")
    assert {c.article_id for c in ankle.citations} == {"medial-malleolus-pain"}
    assert not set(ankle.red_flags) & set(mixed_bot.red_flags.by_article["looking-after-your-bicycle"].flags)


def test_a_follow_up_keeps_its_article(mixed_bot):
    first = mixed_bot.reply("what is chain wear?")
    history = [{"role": "user", "content": "what is chain wear?"}, {"role": "assistant", "content": first.answer}]
    follow = mixed_bot.reply("how do i stop it happening?", history)
    assert follow.kind == "answer" and follow.citations[0].article_id == "looking-after-your-bicycle"


def test_a_story_that_names_no_condition_is_answered_about_the_one_its_symptoms_fit(embedder):
    from chatbot.answer.symptoms import SymptomMatcher

    bot = Chatbot(build_index(load_corpus(CORPORA / "seed"), embedder), embedder)
    story = ("Retired, I walk most days. Over a year a dull ache crept in behind my inner ankle bone. "
             "It's stiff first thing in the morning and a week's rest didn't change it. What would cause that?")
    assert isinstance(bot.symptoms, SymptomMatcher)
    assert bot.symptoms.closest(story) == "Posterior Tibial Tendonosis"
    reply = bot.reply(story)
    assert "Posterior Tibial Tendonosis" in reply.citations[0].section
    assert any(c.section.endswith("Posterior Tibial Tendonosis › Symptoms") for c in reply.citations)
    assert "not a diagnosis" in reply.body  # the article links such symptoms to it; it never says they have it
    assert bot.symptoms.closest("my ankle hurts. what is it?") is None  # nothing stands out: no guess


def test_every_library_over_the_same_model_shares_one_triage_detector(split_bot, mixed_bot):
    # The detector learns from the signs' examples only: adding articles never retrains it.
    assert split_bot.triage.detector is not None
    assert split_bot.triage.detector is mixed_bot.triage.detector
    assert mixed_bot.triage.run("the back of my heel went pop and i cant stand on tiptoe").escalated
