"""The first stage of a reply: the question, read in the light of the conversation.

"How is it treated?" after a talk about tarsal tunnel syndrome means "How is tarsal tunnel
syndrome treated?". The server keeps no state: the caller sends the history, a list of
{"role": "user" | "assistant", "content": str}. Topics are the article's own condition
headings (found from the heading structure), with the shorter names people use for them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from chatbot.errors import InvalidInput
from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.glossary import Glossary

ROLES = ("user", "assistant")
_WORD = re.compile(r"[a-z]+")


def validate_history(data: Any, max_turns: int | None = None) -> list[dict[str, str]]:
    """Check the shape of a history; raise `InvalidInput` saying what is wrong."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput("invalid_history", "history must be a list of {role, content} objects")
    if max_turns is not None and len(data) > max_turns:
        raise InvalidInput("history_too_long", f"history has {len(data)} turns; the limit is {max_turns}")
    history = []
    for i, turn in enumerate(data):
        if not isinstance(turn, dict) or set(turn) - {"role", "content"} or "role" not in turn or "content" not in turn:
            raise InvalidInput("invalid_history", f"history[{i}] must be an object with exactly 'role' and 'content'")
        if turn["role"] not in ROLES:
            raise InvalidInput("invalid_role", f"history[{i}].role must be 'user' or 'assistant', not {turn['role']!r}")
        if not isinstance(turn["content"], str):
            raise InvalidInput("invalid_history", f"history[{i}].content must be a string")
        history.append({"role": turn["role"], "content": turn["content"]})
    return history


@dataclass(frozen=True)
class Topic:
    name: str  # as the article heads it, without list number: "Tarsal Tunnel Syndrome"
    aliases: tuple[str, ...]  # lowercase phrases that name it: "tarsal tunnel", "pttd", ...


class Topics:
    """The conditions an article covers, found in text."""

    def __init__(self, topics: list[Topic], glossary: Glossary | None = None) -> None:
        self.topics = topics
        self.glossary = glossary or Glossary({})
        self._patterns = [(topic, _alternation(topic.aliases)) for topic in topics]

    @classmethod
    def from_chunks(cls, chunks: list[Chunk], glossary: Glossary) -> Topics:
        """A topic is a section whose sub-sections repeat headings used under its siblings
        (every cause has "What it is", "Symptoms", "Why it hurts")."""
        children: dict[tuple[str, ...], set[str]] = {}
        for chunk in chunks:
            for depth in range(1, len(chunk.heading_path)):
                children.setdefault(chunk.heading_path[:depth], set()).add(chunk.heading_path[depth])
        title_counts = Counter(title for titles in children.values() for title in titles)
        names = [
            _clean(path[-1]) for path, titles in children.items()
            if titles and all(title_counts[t] > 1 for t in titles)
        ]
        word_counts = Counter(w for name in names for w in set(_WORD.findall(name.lower())))
        topics = []
        for name in names:
            words = _WORD.findall(name.lower())
            aliases = {name.lower()}
            # A word of one name only, unless it is the stem of another's word: "tendon" is
            # in "tendonitis" too, and every tendon is not this one.
            aliases |= {
                w for w in words if len(w) >= 6 and word_counts[w] == 1
                and not any(v != w and v.startswith(w) for v in word_counts)
            }
            aliases |= {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 2, len(words) + 1)
                        if not any(" ".join(words[i:j]) in other.lower() for other in names if other != name)}
            aliases |= {abbr.lower() for abbr, long_form in glossary.long_forms.items() if long_form == name.lower()}
            topics.append(Topic(name, tuple(sorted(aliases))))
        return cls(topics, glossary)

    def introduced_by(self, heading: str) -> Topic | None:
        """The topic a heading introduces: "1. Posterior Tibial Tendon Dysfunction (Most Common)"."""
        return next((t for t in self.topics if t.name == _clean(heading)), None)

    def mentioned(self, text: str) -> list[Topic]:
        """Topics named in `text`, in the order they first appear."""
        lowered = text.lower().replace("’", "'")
        found = [(m.start(), topic) for topic, pattern in self._patterns if (m := pattern.search(lowered))]
        return [topic for _, topic in sorted(found, key=lambda item: item[0])]


    def only(self, text: str, topic_name: str) -> str:
        """`text` with every other topic's name taken out: one side of a comparison."""
        lowered = text.lower().replace("’", "'")
        for topic, pattern in self._patterns:
            if topic.name != topic_name:
                lowered = pattern.sub(" ", lowered)
        return " ".join(lowered.split())

    def related(self, chunk: Chunk, topic_name: str | None) -> bool:
        """False only when the chunk is about a different condition than `topic_name`.

        "Treatment Options › For PTT/Tendon Problems" is related to "Posterior Tibial
        Tendonitis": PTT stands for "posterior tibial tendon", part of that name.
        """
        if not topic_name:
            return True
        path = " ".join(chunk.heading_path)
        # Long forms of the abbreviations in the heading: "PTT" -> "posterior tibial tendon".
        long_forms = [lf for abbr, lf in self.glossary.long_forms.items() if re.search(rf"\b{abbr}\b", path)]
        names_a_topic = any(lf in t.name.lower() for lf in long_forms for t in self.topics)
        if not self.mentioned(self.glossary.expand(path)) and not names_a_topic:
            return True  # a general section
        topic = next((t for t in self.topics if t.name == topic_name), None)
        lowered, name = path.lower(), topic_name.lower()
        if topic is not None and any(re.search(rf"\b{re.escape(a)}\b", lowered) for a in topic.aliases):
            return True
        return any(long_form in name for long_form in long_forms)


@dataclass(frozen=True)
class Condensed:
    question: str  # what to search with
    topics: tuple[str, ...] = ()  # the topics it is about, if known (two or more: a comparison)
    from_history: bool = False  # True if the topic came from earlier turns

    @property
    def topic(self) -> str | None:
        return self.topics[0] if self.topics else None


def condense(message: str, history: list[dict[str, str]], topics: Topics) -> Condensed:
    """Make a follow-up stand alone by naming the topic the conversation is about."""
    own = topics.mentioned(message)
    if own:
        return Condensed(message, tuple(t.name for t in own), False)
    for turn in reversed(history[-6:]):
        if turn["role"] == "assistant":
            # A reply may name several conditions in passing; its subject is in its section labels.
            labels = " \n ".join(_SECTION_LABEL.findall(turn["content"]))
            earlier = topics.mentioned(labels) or topics.mentioned(turn["content"])
        else:
            earlier = topics.mentioned(turn["content"])[-1:]  # a user names their topic last
        if earlier:
            topic = earlier[0]
            return Condensed(f"{message.rstrip()} ({topic.name})", (topic.name,), True)
    return Condensed(message)


_SECTION_LABEL = re.compile(r"^\*\*(.+?)\*\* \[\d+\]$", re.M)  # "**Tarsal Tunnel Syndrome › Symptoms** [1]"
_REFERS_BACK = re.compile(r"\b(it|its|it's|this|these|those|them|which one)\b")


def refers_back(message: str) -> bool:
    """True if the question points at a problem it does not name: "how do I stop this coming
    back?", "which one have I got?"."""
    return bool(_REFERS_BACK.search(message.lower().replace("’", "'")))


def _alternation(phrases: tuple[str, ...]) -> re.Pattern:
    longest_first = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in longest_first) + r")\b")


def _clean(title: str) -> str:
    """"1. Posterior Tibial Tendon Dysfunction (Most Common)" -> "Posterior Tibial Tendon Dysfunction"."""
    title = re.sub(r"^\d+[.)]\s*", "", title)
    return re.sub(r"\s*\([^)]*\)\s*$", "", title).strip()
