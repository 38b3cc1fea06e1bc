"""The bot's own wording comes from the settings and the corpus, never from code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

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


def _code_and_rule_files() -> list[str]:
    tracked = subprocess.run(["git", "ls-files", "chatbot", "app.py"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    return [f for f in tracked if f.endswith((".py", ".yaml", ".js", ".html"))]


def _seed_names(embedder) -> list[str]:
    """What the seed article names: its title's words of place, its conditions and their
    longer aliases, found from the article itself the way the bot finds them."""
    index = build_index(load_corpus(CORPORA / "seed"), embedder)
    names = {"malleolus", "inner ankle", "inside of the ankle"}
    for topic in index.topics:
        names.add(topic.name.lower())
        initials = "".join(word[0] for word in topic.name.lower().split())
        names.update(alias for alias in topic.aliases if len(alias.split()) >= 2 or alias == initials)
    return sorted(names)


def test_no_article_is_named_in_code_or_rule_files(fake_embedder):
    files = {f: (ROOT / f).read_text(encoding="utf-8") for f in _code_and_rule_files()}
    names = _seed_names(fake_embedder)
    assert len(names) > 10  # the seed's conditions were found
    offenders = {name: [f for f, text in files.items() if re.search(rf"\b{re.escape(name)}\b", text, re.I)]
                 for name in names}
    assert not {name: found for name, found in offenders.items() if found}
