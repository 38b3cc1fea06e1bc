"""The bot's own wording: its name, what it covers and its example questions.

They come from the settings (`CHATBOT_BOT_NAME`, `CHATBOT_COVERS`, `CHATBOT_EXAMPLE_QUESTIONS`);
where a setting is empty, from the corpus: the articles' front matter (`covers:`,
`questions:`), else their titles, topics and sections. So a clinic's own articles get a
greeting about what they cover, with example questions they can answer, and nothing else.

    wording = Wording.from_corpus(settings, documents, chunks, topics)
    wording.fill("I answer questions about {covers}.")
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from chatbot.config import Settings
from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.topics import Topic
from chatbot.rules import RulesFile, load
from chatbot.text import heading_name

DEFAULT_NAME = "the patient information assistant"
MAX_EXAMPLES = 4


class RepliesFile(RulesFile):
    """rules/replies.yaml: the bot's own words, by where they are used."""

    smalltalk: dict[str, str]
    out_of_scope: dict[str, str]
    emergency: dict[str, str]
    notices: dict[str, str]
    example_questions: dict[str, str]
    answer: dict[str, str]


@lru_cache(maxsize=1)
def load_phrases() -> dict:
    return load("replies.yaml", RepliesFile).model_dump()


@dataclass(frozen=True)
class Article:
    """What the wording needs to know of an article (from the index manifest or the corpus)."""

    id: str
    title: str
    covers: str = ""
    questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Wording:
    name: str
    covers: str
    examples: tuple[str, ...]
    articles: int  # how many articles the bot answers from

    @classmethod
    def from_corpus(
        cls, settings: Settings, articles: list[Article], chunks: list[Chunk], topics: list[Topic],
    ) -> Wording:
        covers = settings.covers or _covers(articles)
        examples = settings.example_questions or tuple(q for a in articles for q in a.questions)[:MAX_EXAMPLES]
        return cls(settings.bot_name or DEFAULT_NAME, covers, examples or _derived_examples(chunks, topics),
                   len(articles))

    @property
    def source(self) -> str:
        return "a patient-education article" if self.articles == 1 else "patient-education articles"

    def fill(self, template: str, **values: str) -> str:
        """A template from replies.yaml with its placeholders filled, on one line."""
        text = template.format(name=self.name, covers=self.covers, source=self.source, **values)
        return " ".join(text.split())


def _covers(articles: list[Article]) -> str:
    parts = [a.covers or f"“{a.title}”" for a in articles]
    if len(parts) <= 1:
        return parts[0] if parts else "the articles"
    if len(parts) > 6:
        return f"{', '.join(parts[:5])} and {len(parts) - 5} other topics"
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _derived_examples(chunks: list[Chunk], topics: list[Topic]) -> tuple[str, ...]:
    """Questions the corpus can answer: a topic's own symptoms, treatment, causes ... sections."""
    templates = load_phrases()["example_questions"]
    of_article: dict[str, list[Topic]] = {}
    for topic in topics:
        of_article.setdefault(topic.doc_id, []).append(topic)
    roles: dict[int, set[str]] = {}  # topic (by position) -> the roles of its own sections
    positions = {id(t): i for i, t in enumerate(topics)}
    for chunk in chunks:
        for topic in of_article.get(chunk.doc_id, []):
            if topic.heads(chunk):
                roles.setdefault(positions[id(topic)], set()).add(chunk.role)
    found: list[str] = []
    for role in ("symptoms", "treatment", "causes", "self_care", "see_doctor"):
        first = next((topics[i] for i in sorted(roles) if role in roles[i]), None)
        if first is not None:
            question = templates[role].format(topic=_readable(first.name))
            if question not in found:
                found.append(question)
    for chunk in chunks:  # without topics: the sections themselves
        if len(found) >= MAX_EXAMPLES:
            break
        if chunk.heading_path and chunk.role not in ("other", "overview"):
            question = templates["any"].format(section=heading_name(chunk.heading_path[-1]).lower())
            if question not in found:
                found.append(question)
    return tuple(found[:MAX_EXAMPLES])


def _readable(name: str) -> str:
    """"Heel Spur Syndrome" -> "heel spur syndrome"; abbreviations keep their capitals."""
    return " ".join(w if w.isupper() else w.lower() for w in name.split())
