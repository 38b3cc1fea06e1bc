"""Reading a question before search: spelling, patients' words, abbreviations, intent.

Patients write "tendonitus", "pins and needles in the bottom of my foot", "pf". The
reader returns the question as asked plus a search text that also carries the article's
words for what was meant, and the kinds of answer asked for (treatment, symptoms, ...),
which the retriever matches against the sections' roles and the composer uses to pick
sentences. The word lists and patterns are data, in `rules/query.yaml`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pydantic import Field

from chatbot.knowledge.glossary import Glossary
from chatbot.rules import RulesError, RulesFile, load

_WORD = re.compile(r"[a-z][a-z'-]*")
WEAK_INTENTS = {"describes_symptoms"}
HINTS = {"describes_symptoms", "is_it"}  # kinds of answer that never make a question in scope on their own


@dataclass(frozen=True)
class Intent:
    name: str
    pattern: re.Pattern
    roles: tuple[str, ...] = ()  # the section roles that answer it
    contains: re.Pattern | None = None
    contains_not_in: tuple[str, ...] = ()  # roles whose sections `contains` does not reach


@dataclass(frozen=True)
class QueryRules:
    lay_terms: tuple[tuple[re.Pattern, str], ...]
    intents: tuple[Intent, ...]
    yields: dict[str, tuple[str, ...]]  # an intent dropped when a more specific one is there
    not_asked: re.Pattern | None = None  # reported words ("my GP said") that ask for nothing
    place_and_pain: tuple[str, ...] = ()  # words that name only where it hurts

    def intent(self, name: str) -> Intent:
        return next(i for i in self.intents if i.name == name)


class _LayTerm(RulesFile):
    when: str
    add: str


class _IntentSpec(RulesFile):
    when: str
    roles: tuple[str, ...] = ()
    contains: str | None = None
    contains_not_in: tuple[str, ...] = ()


class QueryRulesFile(RulesFile):
    """rules/query.yaml"""

    lay_terms: tuple[_LayTerm, ...] = ()
    place_and_pain: tuple[str, ...] = ()
    not_asked: str | None = None
    intents: dict[str, _IntentSpec]
    yields: dict[str, tuple[str, ...]] = Field(default_factory=dict)


@lru_cache(maxsize=1)
def load_query_rules() -> QueryRules:
    data = load("query.yaml", QueryRulesFile)
    intents = tuple(
        Intent(name, re.compile(spec.when, re.I), spec.roles,
               re.compile(spec.contains, re.I) if spec.contains else None, spec.contains_not_in)
        for name, spec in data.intents.items()
    )
    unknown = {n for stronger in data.yields.values() for n in stronger} - set(data.intents)
    if unknown:
        raise RulesError(f"rules/query.yaml: yields names intents that do not exist: {sorted(unknown)}")
    return QueryRules(
        tuple((re.compile(t.when, re.I), t.add) for t in data.lay_terms), intents, dict(data.yields),
        re.compile(data.not_asked, re.I) if data.not_asked else None, data.place_and_pain,
    )


@dataclass(frozen=True)
class Query:
    text: str  # as asked
    search_text: str  # spelling fixed, with the article's words for what was meant
    intents: tuple[str, ...]
    corrections: tuple[tuple[str, str], ...] = ()
    dense_text: str = ""  # spelling fixed, abbreviations spelled out: what gets embedded


class QueryReader:
    def __init__(
        self, glossary: Glossary, vocabulary: Iterable[str], rules: QueryRules | None = None,
        dictionary: Iterable[str] = (), lay_terms: Iterable[tuple[str, str]] = (),
    ) -> None:
        """`vocabulary`: the articles' words, what misspellings are corrected to. `dictionary`:
        other real words (the model's vocabulary), left alone: "never" is not "nerve".
        `lay_terms`: the articles' own (pattern, words) pairs from their front matter."""
        self.glossary = glossary
        self.rules = rules or load_query_rules()
        self.lay_terms = (*self.rules.lay_terms, *((re.compile(w, re.I), add) for w, add in lay_terms))
        self.vocabulary = sorted({w for w in vocabulary if len(w) >= 4})
        self._known = set(self.vocabulary) | set(dictionary)
        # The same misspellings come again and again; looking one up is the slow part.
        self._closest = lru_cache(maxsize=4096)(self._closest_article_word)

    def read(self, text: str, ask: str | None = None) -> Query:
        """`ask`: the sentences that ask, when `text` also tells a story: they alone decide the
        kind of answer ("a scan" mentioned in passing does not ask about tests)."""
        cleaned = " ".join(text.replace("’", "'").replace("‘", "'").split())
        corrected, corrections = self._correct_spelling(cleaned)
        intents = self.intents(self._correct_spelling(ask)[0] if ask else corrected)
        additions = [add for pattern, add in self.lay_terms if pattern.search(corrected)]
        search_text = self.glossary.expand(" ".join([corrected, *additions]))
        return Query(text, search_text, intents, corrections, self.glossary.expand(corrected))

    def correct(self, text: str) -> str:
        """`text` with misspelt article words fixed: "tendonitus" -> "tendonitis"."""
        return self._correct_spelling(text.replace("’", "'").replace("‘", "'"))[0]

    def intents(self, text: str) -> tuple[str, ...]:
        if self.rules.not_asked is not None:
            text = self.rules.not_asked.sub(" ", text)
        found = [i.name for i in self.rules.intents if i.pattern.search(text)]
        return tuple(
            name for name in found if not set(self.rules.yields.get(name, ())).intersection(found)
        )

    def _correct_spelling(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Replace long words the articles do not contain by a close article word, if any."""
        corrections = []

        def fix(match: re.Match) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < 5 or lower in self._known:
                return word
            close = self._closest(lower)
            if close:
                corrections.append((word, close))
                return close
            return word

        return re.sub(r"[A-Za-z][A-Za-z'-]*", fix, text), tuple(corrections)

    def _closest_article_word(self, word: str) -> str | None:
        close = difflib.get_close_matches(word, self.vocabulary, n=1, cutoff=0.8)
        return close[0] if close and _plausible_typo(word, close[0]) else None


def _plausible_typo(word: str, candidate: str) -> bool:
    # Same first letter, about the same length: "tendonitus"->"tendonitis", not "system"->"stem".
    return word[0] == candidate[0] and abs(len(word) - len(candidate)) <= 1 and not candidate.startswith(word)
