"""Context for every triage sign, decided once per message (word lists: `rules/triage_context.yaml`).

A sign's words count only when they describe something happening now to someone. A match is
- negated: a negation within a few words before it, in its clause ("no fever", "isn't pale");
- past: its sentence says it is over ("years ago", "cleared up") and its clause has no word of now;
- reported: read or heard about, or someone else's past ("my friend had ..."), until the
  message speaks of the present again ("my dad had a fall and his ankle IS bent" fires);
- hypothetical: a general or "what if" question ("when should I go to A&E?"), unless the
  sentence also says it is happening ("... if my calf is swollen since the flight?");
- explained: its sentence gives a harmless cause the sign lists ("cold after icing"), unless it
  says the sign is new or worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from chatbot.answer.triage_text import PhraseSet, Word

AFFIRMED, NEGATED, PAST, REPORTED, HYPOTHETICAL, EXPLAINED = (
    "affirmed", "negated", "past", "reported", "hypothetical", "explained")


class ContextRules:
    def __init__(self, data: dict) -> None:
        self.clause_breaks = PhraseSet(data["clause_breaks"])
        negation = data["negation"]
        self.negation = PhraseSet(negation["cues"])
        self.pseudo_negation = PhraseSet(negation["pseudo"])
        self.scope = int(negation["scope"])
        self.scope_ends = PhraseSet(negation["scope_ends"])
        self.past = PhraseSet(data["past"])
        self.now = PhraseSet(data["now"])
        reported = data["reported"]
        self.source = PhraseSet(reported["source"])
        self.others = PhraseSet(reported["others"])
        self.past_verbs = PhraseSet(reported["past_verbs"])
        self.family = PhraseSet(reported["family"])
        self.family_past_verbs = PhraseSet(reported["family_past_verbs"])
        self.window = int(reported["window"])
        self.present = PhraseSet(reported["present"])
        hypothetical = data["hypothetical"]
        self.hypothetical = PhraseSet(hypothetical["cues"])
        self.conditional = PhraseSet(hypothetical["conditional"])
        self.conditional_verbs = PhraseSet(hypothetical["conditional_verbs"])
        self.actual = PhraseSet(hypothetical["actual"])
        benign = dict(data["benign"])
        self.override = PhraseSet(benign.pop("override"))
        self.benign = {name: PhraseSet(words) for name, words in benign.items()}
        self.every_sign = tuple(data.get("every_sign", ()))

    def words(self) -> set[str]:
        """Every word the context lists: never "mended" into a sign word."""
        sets = [self.clause_breaks, self.negation, self.pseudo_negation, self.scope_ends, self.past, self.now,
                self.source, self.others, self.past_verbs, self.family, self.family_past_verbs, self.present,
                self.hypothetical, self.conditional, self.conditional_verbs, self.actual, self.override,
                *self.benign.values()]
        return set().union(*(s.words() for s in sets))

    def read(self, words: list[Word], covered: set[int], inside: set[int] = frozenset()) -> Context:
        """The context of one message. `covered`: positions inside sign terms ("can't feel"),
        where a negation word is part of the sign, not a negation; `inside`: positions inside
        sign terms of several words ("ice cold"), where a harmless cause is part of the sign."""
        texts = [w.text for w in words]
        sentences = _groups_of(words, "sentence")
        clauses = _groups_of(words, "clause")
        negated = self._negated(texts, words, covered)
        now_clauses, past_sentences, hypothetical, benign = set(), set(), set(), {}
        overridden = {words[a].clause for a, _, _ in self.override.find(texts)}
        for sent, (start, stop) in sentences.items():
            past_spans = self.past.find(texts, start, stop)
            masked = {i for a, b, _ in past_spans for i in range(a, b)}
            for a, _, _ in self.now.find(texts, start, stop):
                if a not in masked:
                    now_clauses.add(words[a].clause)
            if past_spans:
                past_sentences.add(sent)
            if self._hypothetical(texts, start, stop):
                hypothetical.add(sent)
            # A harmless cause inside a sign's words ("ice cold") or negated ("not bruised") is none.
            benign[sent] = {
                name for name, p in self.benign.items()
                if any(a not in inside and a not in negated for a, _, _ in p.find(texts, start, stop))
            }
        return Context(words, negated, now_clauses, past_sentences, self._reported(texts, words, clauses),
                       hypothetical, benign, overridden, self.every_sign)

    def _negated(self, texts: list[str], words: list[Word], covered: set[int]) -> set[int]:
        pseudo = {i for a, b, _ in self.pseudo_negation.find(texts) for i in range(a, b)}
        ends = {a for a, _, _ in self.scope_ends.find(texts)}
        negated: set[int] = set()
        for a, b, _ in self.negation.find(texts):
            if a in covered or a in pseudo:
                continue
            for i in range(b, min(len(words), b + self.scope)):
                if words[i].sentence != words[a].sentence or (i in ends and i not in covered):
                    break
                negated.add(i)
        return negated

    def _hypothetical(self, texts: list[str], start: int, stop: int) -> bool:
        if self.actual.find(texts, start, stop):
            return False
        if self.hypothetical.find(texts, start, stop):
            return True
        return bool(self.conditional.find(texts, start, stop) and self.conditional_verbs.find(texts, start, stop))

    def _reported(self, texts: list[str], words: list[Word], clauses: dict[int, tuple[int, int]]) -> set[int]:
        """Clauses that tell of something read or heard, or of someone else's past."""
        reported: set[int] = set()
        active = None  # "source" or "others" while a story goes on
        previous_sentence = -1
        for clause, (start, stop) in sorted(clauses.items()):
            new_sentence = words[start].sentence != previous_sentence
            previous_sentence = words[start].sentence
            verbs = [
                (a, end) for people, past in ((self.others, self.past_verbs), (self.family, self.family_past_verbs))
                for _, b, _ in people.find(texts, start, stop)
                for a, end, _ in past.find(texts, b, min(stop, b + self.window))
            ]
            in_verbs = {i for a, end in verbs for i in range(a, end)}  # "told me" is no present "me"
            present = [p for p in self.present.find(texts, start, stop) if p[0] not in in_verbs]
            verb_ends = [end for _, end in verbs]
            if self.source.find(texts, start, stop):
                active = "source"
            elif verb_ends:
                # "my dad had a fall and his ankle is bent": the story reaches the present.
                active = None if any(a >= min(verb_ends) for a, _, _ in present) else "others"
            elif active and present and (new_sentence or active == "others"):
                active = None
            if active:
                reported.add(clause)
        return reported


@dataclass(frozen=True)
class Context:
    words: list[Word]
    negated: set[int]  # word positions
    now_clauses: set[int]
    past_sentences: set[int]
    reported_clauses: set[int]
    hypothetical_sentences: set[int]
    benign: dict[int, set[str]]  # sentence -> harmless causes it gives
    overridden: set[int]  # clauses that say a sign is new or worse
    every_sign: tuple[str, ...] = ()  # harmless causes that count for every sign

    def status(self, position: int, explained_by: tuple[str, ...] = ()) -> str:
        """What a sign word at `position` counts as."""
        word = self.words[position]
        if position in self.negated:
            return NEGATED
        if word.clause in self.reported_clauses:
            return REPORTED
        if word.sentence in self.past_sentences and word.clause not in self.now_clauses:
            return PAST
        if word.sentence in self.hypothetical_sentences:
            return HYPOTHETICAL
        causes = self.benign.get(word.sentence, set()) & {*explained_by, *self.every_sign}
        if causes and not {word.clause - 1, word.clause, word.clause + 1} & self.overridden:
            return EXPLAINED
        return AFFIRMED

    def circumstance_counts(self, position: int) -> bool:
        """Circumstances (an injury, a flight) count unless negated or long past."""
        word = self.words[position]
        past = word.sentence in self.past_sentences and word.clause not in self.now_clauses
        return position not in self.negated and not past


def _groups_of(words: list[Word], key: str) -> dict[int, tuple[int, int]]:
    spans: dict[int, tuple[int, int]] = {}
    for i, word in enumerate(words):
        value = getattr(word, key)
        spans[value] = (spans[value][0], i + 1) if value in spans else (i, i + 1)
    return spans


@lru_cache(maxsize=2)
def load_context(path: Path | None = None) -> ContextRules:
    source = Path(path) if path else Path(str(resources.files("chatbot.rules").joinpath("triage_context.yaml")))
    return ContextRules(yaml.safe_load(source.read_text(encoding="utf-8")))
