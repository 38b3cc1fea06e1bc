"""Reading a message like a letter: its ask, what it rules out, a professional's word, who it
is about, smalltalk in a sentence; and the notices that say what the articles do not cover."""

from __future__ import annotations

import pytest

from chatbot.answer.reading import MessageReader
from chatbot.knowledge.topics import Topics


@pytest.fixture(scope="module")
def reader(fake_index):
    return MessageReader(Topics(fake_index.topics, fake_index.glossary))


def test_the_ask_is_the_sentence_that_asks_and_the_rest_is_the_story(reader):
    reading = reader.read("Started running again last month. It aches at night. Should I stop running?")
    assert reading.ask == "Should I stop running?" and reading.is_story
    assert "aches at night" in reading.context


def test_a_professionals_word_sets_the_topic_and_a_scan_rules_one_out(reader):
    reading = reader.read("x-ray showed no fracture. GP thinks it's posterior tibial tendonitis. what helps?")
    assert reading.ruled_out == ("Tibial Stress Fracture",)
    assert reading.professional == ("Posterior Tibial Tendonitis",)
    assert reading.topics[0] == "Posterior Tibial Tendonitis"


@pytest.mark.parametrize("text", ["the MRI showed no stress fracture", "a stress fracture was ruled out",
                                  "definitely not a stress fracture apparently"])
def test_ruling_out_is_read_before_or_after_the_name(reader, text):
    assert reader.read(text).ruled_out == ("Tibial Stress Fracture",)


def test_a_condition_named_plainly_is_not_ruled_out(reader):
    assert reader.read("could it be a stress fracture?").ruled_out == ()


@pytest.mark.parametrize(("text", "group"), [
    ("my 7 year old son says his ankle hurts", "children"), ("12yo daughter does ballet", "children"),
    ("im 16 and play basketball", "children"), ("I'm 30 weeks pregnant and my feet ache", "pregnancy"),
    ("I'm 45 and my ankle hurts", ""), ("I'm 5 weeks pregnant", "pregnancy"),
])
def test_who_the_message_is_about(reader, text, group):
    assert reader.read(text).group == group


@pytest.mark.parametrize(("text", "kind"), [
    ("thanks, that was really helpful!", "thanks"), ("ok bye", "goodbye"), ("cheers!! ur a lifesaver lol x", "thanks"),
    ("brilliant, makes sense now. i'll ring the gp tomorrow. thank you so much, bye!", "goodbye"),
    ("hiya! can i ask you a few things about my ankle?", "about_bot"),
])
def test_smalltalk_said_in_a_sentence(reader, text, kind):
    assert reader.read(text).smalltalk == kind


def test_smalltalk_with_a_real_question_is_a_question(reader):
    assert reader.read("ok thanks. unrelated but whats a good lasagne recipe").smalltalk == ""
    assert reader.read("thanks! and how is it treated?").smalltalk == ""


def test_a_follow_up_about_a_child_is_still_about_a_child(reader):
    assert reader.group_of(["my 9 year old has flat feet", "what helps?"]) == "children"


@pytest.mark.parametrize(("message", "kind", "words"), [
    ("my 7 year old son's inner ankle hurts after football, what could it be?", "population", "adults"),
    ("i'm pregnant, is it ok to take anti-inflammatories for my ankle tendon?", "population", "pregnancy"),
    ("should i use heat or ice on my tendon?", "not_covered", "heat"),
    ("does gabapentin work for tarsal tunnel syndrome?", "not_covered", "gabapentin"),
    ("what's the treatment for posterior ankle impingement?", "not_covered", "treatment for posterior ankle"),
    ("my physio said FHL or FDL tendinitis. what's the difference?", "not_covered", "FHL"),
])
def test_the_reply_says_first_what_the_article_does_not_cover(fake_bot, message, kind, words):
    reply = fake_bot.reply(message)
    assert any(n.kind == kind and words in n.text for n in reply.notices)
    assert reply.answer.index(next(n.text for n in reply.notices if n.kind == kind)) < reply.answer.index(reply.body)


def test_a_child_gets_no_adult_treatment_list(fake_bot):
    reply = fake_bot.reply("my 8 year old has tarsal tunnel syndrome, how is it treated?")
    assert reply.kind == "answer" and any(n.kind == "population" for n in reply.notices)
    assert "Surgery" not in reply.body and "injections" not in reply.body


def test_an_ordinary_question_has_no_notice(fake_bot):
    assert fake_bot.reply("what are the symptoms of tarsal tunnel syndrome?").notices == []


@pytest.mark.parametrize("message", [
    "my GP thinks it's PTTD, what helps? tbh I'm worried",  # everyday, the glossary's, chat
    "is FDL tendinitis common in dancers?",  # the initials of a condition the article covers
    "what is PTT and how is it treated ASAP?",
])
def test_abbreviations_the_articles_know_are_no_gap(fake_bot, message):
    assert not any(n.kind == "not_covered" and any(a in n.text for a in ("GP", "PTT", "FDL", "ASAP"))
                   for n in fake_bot.reply(message).notices)
