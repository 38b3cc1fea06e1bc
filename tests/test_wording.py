"""The bot's own wording comes from the settings and the corpus, never from code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from chatbot.bot import Chatbot
from chatbot.config import Settings
from chatbot.knowledge.corpus import load_corpus
from chatbot.search.indexing import build_index

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path(__file__).parent / "data" / "corpora"


def bot_for(name: str, embedder, settings: Settings | None = None) -> Chatbot:
    return Chatbot(build_index(load_corpus(CORPORA / name), embedder), embedder, settings=settings)


def test_the_greeting_says_what_the_articles_cover(fake_bot):
    reply = fake_bot.reply("hello")
    assert reply.kind == "smalltalk"
    assert "pain behind the medial malleolus" in reply.body  # the seed's own `covers:`
    assert all(q in reply.body for q in fake_bot.wording.examples)


def test_a_corpus_without_front_matter_gets_wording_from_its_titles_and_sections(fake_embedder):
    bot = bot_for("bicycle", fake_embedder)
    greeting = bot.reply("hi").body
    assert "Looking After Your Bicycle" in greeting and "ankle" not in greeting.lower()
    assert bot.wording.examples and all("ankle" not in q.lower() for q in bot.wording.examples)
    declined = bot.reply("what's a good lasagne recipe?")
    assert declined.kind == "out_of_scope" and "Looking After Your Bicycle" in declined.body


def test_examples_offered_are_questions_the_corpus_can_answer(fake_embedder):
    bot = bot_for("mayo-style", fake_embedder)
    names = {t.name.lower() for t in bot.topics.topics}
    assert bot.wording.examples
    assert all(any(name in q.lower() for name in names) for q in bot.wording.examples)
    assert "tarsal tunnel" not in " ".join(bot_for("bicycle", fake_embedder).wording.examples).lower()


def test_settings_win_over_the_corpus(fake_embedder):
    settings = Settings(bot_name="Ankle Helper", covers="foot and ankle pain", example_questions=("What is PTTD?",))
    bot = bot_for("seed", fake_embedder, settings)
    assert "I'm Ankle Helper" in bot.reply("who are you?").body
    assert "foot and ankle pain" in bot.reply("hello").body and "What is PTTD?" in bot.reply("hello").body


def test_example_questions_come_from_the_environment_separated_by_bars():
    settings = Settings.load(env={"CHATBOT_EXAMPLE_QUESTIONS": "What helps, at home?|When should I worry?"})
    assert settings.example_questions == ("What helps, at home?", "When should I worry?")


def test_a_condition_no_article_covers_is_named_in_the_reply(fake_bot):
    reply = fake_bot.reply("is it gout?")
    assert reply.kind == "out_of_scope" and "gout" in reply.body


@pytest.mark.parametrize("pattern", [r"malleolus", r"inner ankle", r"inside of the ankle", r"tarsal"])
def test_no_article_is_named_in_code_or_rule_files(pattern):
    tracked = subprocess.run(["git", "ls-files", "chatbot", "app.py"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    offenders = [f for f in tracked if f.endswith((".py", ".yaml", ".js", ".html"))
                 and re.search(pattern, (ROOT / f).read_text(encoding="utf-8"), re.I)]
    assert not offenders
