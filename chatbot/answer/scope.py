"""Scope: is a question about what the corpus covers?

A question is in scope when the corpus covers it: it names a topic of the corpus, a word the
articles use that is not an everyday word ("orthotics", "tendon"), or a body part they
mention, or search finds the articles relevant, or it continues the conversation. It is out
of scope when it names only things that no article mentions: a body part, a condition, a
subject (rules/scope.yaml). Those lists hold only generic words; what counts is whether the
corpus mentions them, so adding an article about heels brings "heel" into scope by itself.

    scope = Scope.from_index(index, topics, everyday_words)
    verdict = scope.judge("my knee hurts on stairs")   # ScopeVerdict(False, "other_body_part", ("knee",))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from chatbot.knowledge.markdown import plain
from chatbot.knowledge.topics import Topics
from chatbot.rules import RulesFile, load
from chatbot.search.index import SearchIndex
from chatbot.text import normalize, words

_stemmer = Stemmer.Stemmer("english")


class ScopeRulesFile(RulesFile):
    body_parts: tuple[str, ...]
    conditions: tuple[str, ...]
    other_topics: tuple[str, ...]
    reveal_rules: str
    injection: str
    min_anchor_letters: int


@dataclass(frozen=True)
class ScopeVerdict:
    """`in_scope` False: decline, for `reason`; None: nothing decides it here (search will)."""

    in_scope: bool | None
    reason: str = ""  # reveal_rules | other_topic | not_covered | other_body_part
    named: tuple[str, ...] = ()  # what the question names that the corpus does not cover
    anchored: bool = False  # names a topic or a distinctive word of the corpus


@lru_cache(maxsize=8192)
def _phrase_stems(text: str) -> tuple[str, ...]:
    return tuple(_stemmer.stemWord(w.replace("'", "")) for w in words(text))


def _stems(text: str) -> list[str]:
    return list(_phrase_stems(text))


# Written in capitals, two to five letters: FHL, DVT (and not "I" or "A&E").
_ABBREVIATION = re.compile(r"\b[A-Z]{2,5}\b")


class Scope:
    def __init__(self, corpus_text: str, topics: Topics, everyday_words: Iterable[str] = (),
                 rules: ScopeRulesFile | None = None) -> None:
        self.rules = rules or load("scope.yaml", ScopeRulesFile)
        self.topics = topics
        self._corpus = " " + " ".join(_stems(corpus_text)) + " "
        everyday = {_stemmer.stemWord(w) for w in everyday_words}
        self._distinctive = {
            s for w in set(words(corpus_text)) if len(w) >= self.rules.min_anchor_letters
            and (s := _stemmer.stemWord(w.replace("'", ""))) not in everyday and w not in everyday_words
        }
        self._everyday = frozenset(everyday_words)
        self._initials_cache: frozenset[str] | None = None
        self._other_topics = [re.compile(p, re.I) for p in self.rules.other_topics]
        self._reveal = re.compile(self.rules.reveal_rules, re.I)
        self._injection = re.compile(self.rules.injection, re.I)

    @classmethod
    def from_index(cls, index: SearchIndex, topics: Topics, everyday_words: Iterable[str] = ()) -> Scope:
        text = "\n".join(f"{c.section}\n{plain(c.text)}" for c in index.chunks)
        return cls(text, topics, everyday_words)

    def covers(self, phrase: str) -> bool:
        """Whether the corpus mentions this phrase (as whole words, any plural)."""
        return f" {' '.join(_stems(phrase))} " in self._corpus

    def unknown_abbreviations(self, text: str, chat: Iterable[str] = ()) -> list[str]:
        """Abbreviations the text names that the articles do not: not an everyday word, not a
        word of the articles, not one of the glossary's, not a condition's initials ("PF":
        Plantar Fasciitis). "FHL" in an ask about toe tendons is one."""
        found = dict.fromkeys(_ABBREVIATION.findall(text))
        if not found:
            return []
        known = {a.lower() for a in self.topics.glossary.long_forms} | {c.lower() for c in chat}
        return [a for a in found if not (a.lower() in self._everyday or a.lower() in known or self.covers(a.lower())
                                         or a.lower() in self._initials())]

    def _initials(self) -> frozenset[str]:
        """Every start of every condition name's initials ("f", "fd", "fdl", "fdlt"), found once."""
        if self._initials_cache is None:
            names = (n for t in self.topics.topics for n in (t.name, *t.aliases))
            initials = ("".join(w[0] for w in words(n)) for n in names)
            self._initials_cache = frozenset(i[:k] for i in initials for k in range(2, len(i) + 1))
        return self._initials_cache

    def anchored(self, text: str) -> bool:
        """Names a topic of the corpus, or a word of the articles that is not an everyday word."""
        return bool(self.topics.mentioned(text)) or bool(set(_stems(text)) & self._distinctive)

    def body_parts(self, text: str) -> list[str]:
        return self.named_in(text, self.rules.body_parts)

    def judge(self, text: str, ask: str | None = None, continues: bool = False) -> ScopeVerdict:
        """`ask`: the sentences that ask, when the message tells a story: a subject mentioned
        in the story ("I walk my dog") does not make the question about it. `continues`: the
        message follows up the conversation ("and with it?"): no body part declines it."""
        text = normalize(text)
        topics = bool(self.topics.mentioned(text))
        parts = self.body_parts(text)
        covered = [p for p in parts if self.covers(p)]
        distinctive = bool(set(_stems(text)) & self._distinctive)
        if self._reveal.search(text) or self._injection.search(text):
            # An injection wrapped around a real question still gets the question answered.
            if topics or covered or distinctive:
                return ScopeVerdict(None, anchored=True)
            return ScopeVerdict(False, "reveal_rules")
        if topics:
            return ScopeVerdict(None, anchored=True)
        if parts and not covered and not continues:
            # "carpal tunnel in my wrist": a word the articles use, about a part they do not cover
            return ScopeVerdict(False, "other_body_part", tuple(parts))
        if distinctive or continues:
            return ScopeVerdict(None, anchored=True)
        asked = normalize(ask) if ask and covered else text
        subjects = [m.group(0) for p in self._other_topics for m in p.finditer(asked) if not self.covers(m.group(0))]
        if subjects:
            return ScopeVerdict(False, "other_topic", tuple(subjects))
        missing = [c for c in self.named_in(asked, self.rules.conditions) if not self.covers(c)]
        if missing:
            return ScopeVerdict(False, "not_covered", tuple(missing))
        return ScopeVerdict(None, anchored=bool(covered))

    def named_in(self, text: str, phrases: Iterable[str]) -> list[str]:
        """Which of `phrases` the text names (whole words, any plural), the longest ones."""
        stems = f" {' '.join(_stems(text))} "
        found = [p for p in phrases if f" {' '.join(_stems(p))} " in stems]
        # "big toe" names the toe: drop a phrase that is part of a longer one found
        return [p for p in found if not any(p != q and f" {p} " in f" {q} " for q in found)]
