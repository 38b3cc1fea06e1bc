"""Saying what is not there, first: notices for gaps in the articles and for readers they are
not written for.

- A reader the articles are not written for: a child (an article's front matter says whom it
  is written for, `audience:`, adults by default) or a pregnancy: the reply says so first, and
  leaves out the treatments the article gives adults.
- Something the ask names that the sections the answer comes from do not mention: a medicine,
  a product, a procedure, heat, driving, the risks (rules/reading.yaml `aspects`): "The
  article does not mention gabapentin."
- A kind of answer the article has nowhere for the condition asked about: "The article does not
  describe treatment for plantar fasciitis."
- A time frame asked for that the answer does not give.

    finder = GapFinder(scope, topics, chunks, audiences, wording)
    notices = finder.notices(reading, topic, intents, cited_chunks, quoted_units)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import Stemmer

from chatbot.answer.reading import Reading, ReadingRulesFile
from chatbot.answer.reply import Notice
from chatbot.answer.scope import Scope
from chatbot.answer.wording import Wording, load_phrases
from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.topics import Topics
from chatbot.rules import load
from chatbot.text import normalize, words

_TIME = re.compile(r"\b\d+(-\d+)?\s*(weeks?|minutes?|days?|months?|hours?)\b", re.I)
_stemmer = Stemmer.Stemmer("english")
# Roles whose absence for a condition is worth saying: what people most often ask for.
_ROLE_GAPS = {"treatment": ("treatment",), "self_care": ("self_care",), "prevention": ("prevention",),
              "diagnosis": ("diagnosis",)}
_MIN_NAME_LETTERS = 5
_STOPWORDS = frozenset(words("""about after again also been before being could does doing from have having into
just like maybe might much only other really should since some still such than that their them then there these
they thing things this those through very want what when where which while will with would your yours"""))


class GapFinder:
    def __init__(
        self, scope: Scope, topics: Topics, chunks: Sequence[Chunk], audiences: dict[str, str], wording: Wording,
    ) -> None:
        self.rules = load("reading.yaml", ReadingRulesFile)
        self.scope = scope
        self.topics = topics
        self.chunks = chunks
        self.audiences = audiences
        self.wording = wording
        self.phrases = load_phrases()["notices"]

    def excluded_roles(self, reading: Reading | None) -> tuple[str, ...]:
        """Section roles left out of the answer for this reader (adult treatments for a child)."""
        return tuple(self.rules.group_excludes.get(reading.group, ())) if reading and reading.group else ()

    def notices(
        self, reading: Reading | None, topic: str | None, intents: Iterable[str], cited: Sequence[Chunk],
        units: Sequence[str], dosing: bool = False,
    ) -> list[Notice]:
        """`cited`: the sections the answer comes from; `units`: the words it quotes."""
        found: list[Notice] = []
        if reading is not None and reading.group and self._not_written_for(reading.group, cited):
            found.append(Notice("population", self.wording.fill(self.phrases[reading.group])))
        named = self.missing(reading.ask if reading is not None and reading.asks else "", cited)
        if reading is not None:  # an abbreviation of the story counts too: "either FHL or FDL, which?"
            named += [a for a in self.scope.unknown_abbreviations(f"{reading.context} {reading.ask}",
                                                                   self.rules.chat_abbreviations) if a not in named]
        if named:
            found.append(Notice("not_covered", self.wording.fill(self.phrases["not_covered"], named=_join(named))))
        intents = set(intents)
        for intent, roles in _ROLE_GAPS.items():
            if topic and intent in intents and not self._has_role(topic, roles):
                role = self.rules.role_words.get(roles[0], roles[0])
                text = self.wording.fill(self.phrases["no_role"], role=role, topic=_readable(topic))
                found.append(Notice("not_covered", text))
                break
        if "duration" in intents and not dosing and not self._gives_time(topic, cited, units):
            found.append(Notice("not_covered", self.wording.fill(self.phrases["no_time_frame"])))
        return found

    def missing(self, ask: str, cited: Sequence[Chunk]) -> list[str]:
        """The aspects the ask names (a medicine, heat, driving, the risks) that the sections
        the answer comes from do not mention."""
        text = normalize(ask)
        said = " " + " ".join(_stemmer.stemWord(w) for c in cited for w in words(f"{c.section} {c.text}")) + " "
        missing = []
        for aspect in self.rules.aspects:
            ways = aspect.split("|")
            asked = self.scope.named_in(text, ways)
            if asked and not any(f" {' '.join(_stemmer.stemWord(w) for w in words(way))} " in said for way in ways):
                missing.append(ways[0])  # named the first way: "pregnant" is said as "pregnancy"
        # "injection risks" names the risks: drop a word that is part of a longer one found
        return [m for m in missing if not any(m != n and f" {m} " in f" {n} " for n in missing)][:3]

    def _gives_time(self, topic: str | None, cited: Sequence[Chunk], units: Sequence[str]) -> bool:
        """A time frame in the words quoted, from a section about the condition asked about."""
        # a see-a-doctor threshold ("pain lasting more than 2-3 weeks") is no time frame for getting better
        own = [c for c in cited if (topic is None or self.topics.related(c, topic))
               and c.role not in ("see_doctor", "urgent")]
        return any(_TIME.search(u) for u in units) and any(_TIME.search(c.text) for c in own)

    def _not_written_for(self, group: str, cited: Sequence[Chunk]) -> bool:
        if group == "children":
            articles = {c.doc_id for c in cited} or set(self.audiences)
            return any(self.audiences.get(a, "adults") == "adults" for a in articles)
        return not self.scope.covers(group)

    def _has_role(self, topic: str, roles: tuple[str, ...]) -> bool:
        """Whether some section of these roles is about `topic`: in its own part of an article,
        or headed for it ("For Ligament Sprains"), or for every condition (no condition named)."""
        for chunk in self.chunks:
            if chunk.role not in roles:
                continue
            holder = self.topics.holder(chunk)
            named = self.topics.headed_for(chunk)
            if (holder is not None and holder.name == topic) or topic in named or (holder is None and not named):
                return True
        return False


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _readable(name: str) -> str:
    return " ".join(w if w.isupper() else w.lower() for w in name.split())
