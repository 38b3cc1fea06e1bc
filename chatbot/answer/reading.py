"""Reading a message the way a clinician reads a letter.

People write stories: how it started, what they tried, what a scan ruled out, what the GP
said, then one ask at the end. The reading separates the ask (the sentences that ask, which
decide the kind of answer) from the context (which decides the topic), and notes what the
message rules out ("no fracture on the x-ray"), which condition a professional named, who the
message is about (a child, a pregnancy) and smalltalk said in a sentence. Patterns are data
(rules/reading.yaml); conditions are the corpus's own topics.

    reading = MessageReader(topics).read("x-ray showed no fracture. GP thinks tendonitis. what helps?")
    reading.ask -> "what helps?"; reading.ruled_out -> ("Heel Bursitis",);
    reading.topics -> ("Plantar Fasciitis",)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import field_validator

from chatbot.knowledge.topics import Topic, Topics
from chatbot.rules import RulesFile, load
from chatbot.text import normalize, words

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class ReadingRulesFile(RulesFile):
    asks: re.Pattern
    professional: re.Pattern
    rules_out_before: re.Pattern
    rules_out_after: re.Pattern
    ruled_out_kinds: tuple[str, ...]
    groups: dict[str, re.Pattern]
    group_excludes: dict[str, tuple[str, ...]]
    smalltalk: dict[str, re.Pattern]
    aspects: tuple[str, ...]
    chat_abbreviations: tuple[str, ...] = ()
    role_words: dict[str, str]
    symptom_match: dict[str, float]

    @field_validator("asks", "professional", "rules_out_before", "rules_out_after", mode="before")
    @classmethod
    def _compile(cls, value: str) -> re.Pattern:
        return re.compile(value, re.I)

    @field_validator("groups", "smalltalk", mode="before")
    @classmethod
    def _compile_all(cls, value: dict[str, str]) -> dict[str, re.Pattern]:
        return {name: re.compile(pattern, re.I) for name, pattern in value.items()}


@dataclass(frozen=True)
class Reading:
    ask: str  # the sentences that ask; the whole message when none does
    context: str  # the other sentences: the story
    topics: tuple[str, ...] = ()  # conditions the message is about (a professional's first), not ruled out
    ruled_out: tuple[str, ...] = ()  # conditions the message rules out
    professional: tuple[str, ...] = ()  # conditions a professional named
    group: str = ""  # who it is about, when not an adult reader: "children", "pregnancy"
    smalltalk: str = ""  # thanks, goodbye, greeting, about_bot: when the message asks nothing else
    asks: bool = False  # True when some sentence asks
    said: tuple[str, ...] = ()  # the sentences that report what someone else said or found

    @property
    def is_story(self) -> bool:
        return bool(self.context)


class MessageReader:
    def __init__(self, topics: Topics, rules: ReadingRulesFile | None = None) -> None:
        self.topics = topics
        self.rules = rules or load("reading.yaml", ReadingRulesFile)

    def read(self, message: str) -> Reading:
        text = normalize(message)
        sentences = [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]
        asking = [s for s in sentences if self.rules.asks.search(s)]
        ask = " ".join(asking) if asking else text
        context = " ".join(s for s in sentences if s not in asking) if asking else ""
        ruled_out = self._ruled_out(text)
        professional = tuple(dict.fromkeys(
            t.name for s in sentences if self.rules.professional.search(s) for t in self.topics.mentioned(s)
            if t.name not in ruled_out
        ))
        named = [t.name for t in self.topics.mentioned(ask)] + [t.name for t in self.topics.mentioned(context)]
        topics = tuple(dict.fromkeys(n for n in [*professional, *named] if n not in ruled_out))
        group = next((name for name, pattern in self.rules.groups.items() if pattern.search(text)), "")
        said = tuple(s for s in sentences if s not in asking and self.rules.professional.search(s))
        return Reading(ask, context, topics, ruled_out, professional, group, self._smalltalk(sentences, asking),
                       bool(asking), said)

    def group_of(self, texts: list[str]) -> str:
        """Who earlier messages of the conversation were about ("my 7 year old ..."), if anyone."""
        for text in reversed(texts):
            group = next((name for name, p in self.rules.groups.items() if p.search(normalize(text))), "")
            if group:
                return group
        return ""

    def without_ruled_out(self, text: str, phrases: tuple[str, ...]) -> str:
        """`text` with each of `phrases` taken out where the message rules it out ("definitely
        not plantar fasciitis"): what a message rules out is not what it is about."""
        for phrase in phrases:
            for match in reversed(list(re.finditer(rf"\b{re.escape(phrase)}\b", text, re.I))):
                if self._negated(text, match.start(), match.end()):
                    text = text[: match.start()] + " " + text[match.end():]
        return text

    def _ruled_out(self, text: str) -> tuple[str, ...]:
        """Conditions named, or of a kind named ("no fracture"), right after a word that rules
        them out, or right before one ("the fracture was ruled out")."""
        out: list[Topic] = []
        for start, end, topic in self.topics.spans(text):
            if self._negated(text, start, end):
                out.append(topic)
        for kind in self.rules.ruled_out_kinds:
            for match in re.finditer(rf"\b{re.escape(kind)}(e?s)?\b", text, re.I):
                if self._negated(text, match.start(), match.end()):
                    out += [t for t in self.topics.topics if kind in words(t.name)]
        return tuple(dict.fromkeys(t.name for t in out))

    def _negated(self, text: str, start: int, end: int) -> bool:
        return bool(self.rules.rules_out_before.search(text[max(0, start - 60):start])
                    or self.rules.rules_out_after.search(text[end:end + 40]))

    def _smalltalk(self, sentences: list[str], asking: list[str]) -> str:
        """Smalltalk said in a sentence: a thank-you with a compliment, "ok bye", "can I ask you
        a few things?". Only when no other sentence asks about something."""
        found = [name for name, pattern in self.rules.smalltalk.items() if any(pattern.search(s) for s in sentences)]
        if not found:
            return ""
        other_asks = [s for s in asking if not any(p.search(s) for p in self.rules.smalltalk.values())]
        if other_asks:
            return ""
        for name in ("goodbye", "thanks", "about_bot", "greeting"):
            if name in found:
                return name
        return found[0]
