"""Context for every triage sign, decided once per message (word lists: `rules/triage_context.yaml`).

A sign's words count only when they describe something happening now to someone. A match is
- negated: a negation within a few words before it ("no fever", "isn't cold, pale or blue"),
  until a word or a new clause that starts another thought (triage_negation.py);
- past: its sentence says it was long ago ("years ago", "as a kid") and its clause has no word of now;
- resolved: it is over now ("went back to normal", "pinked up", "it's stopped"), said later in its
  sentence or in the next one, unless something says it is back (triage_recovery.py);
  a sign may declare that it needs care even when it has passed (a mini-stroke);
- reported: read or heard about, or someone else's past ("my friend had ..."), until the
  message speaks of the present again ("my dad had a fall and his ankle IS bent" fires);
- hypothetical: after the cue of a general or "what if" question ("when should I go to A&E?"),
  unless the sentence also says it is happening ("... if my calf is swollen since the flight?") or
  the next one claims it ("Can X make a foot go blue? Mine did today.");
- explained: its sentence gives a harmless cause the sign lists ("cold after icing"), unless it
  says the sign is new or worse; a cause in a comparison ("like a bruised banana") is none;
  "worse" asked about ("does the dye make it worse?") says nothing is worse; a colour said
  right before a thing that has colours is that thing's ("blue trainers").

Idioms ("cabin fever", "cut down") are no sign words at all (`idiom_positions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from chatbot.answer.triage_negation import Negation
from chatbot.answer.triage_recovery import Recovery
from chatbot.answer.triage_text import PhraseSet, Word, normalize

# Words that may stand between a negation and what it denies: "isn't really improving".
_DEGREE = frozenset({"really", "actually", "even", "much", "very", "yet", "exactly", "properly"})
AFFIRMED, NEGATED, PAST, RESOLVED, REPORTED, HYPOTHETICAL, EXPLAINED = (
    "affirmed", "negated", "past", "resolved", "reported", "hypothetical", "explained")


class ContextRules:
    def __init__(self, data: dict) -> None:
        self.clause_breaks = PhraseSet(data["clause_breaks"])
        self.shorthand = {normalize(str(k)): normalize(str(v)) for k, v in data.get("shorthand", {}).items()}
        self.negation = Negation(data["negation"])
        self.past = PhraseSet(data["past"])
        self.recovery = Recovery(data["resolved"])
        self.now = PhraseSet(data["now"])
        self.idioms = PhraseSet(data["idioms"])
        reported = data["reported"]
        self.source = PhraseSet(reported["source"])
        self.others = PhraseSet(reported["others"])
        self.past_verbs = PhraseSet(reported["past_verbs"])
        self.family = PhraseSet(reported["family"])
        self.family_past_verbs = PhraseSet(reported["family_past_verbs"])
        self.window = int(reported["window"])
        self.present = PhraseSet(reported["present"])
        self.together = PhraseSet(reported.get("together", ()))
        hypothetical = data["hypothetical"]
        self.hypothetical = PhraseSet(hypothetical["cues"])
        self.conditional = PhraseSet(hypothetical["conditional"])
        self.conditional_verbs = PhraseSet(hypothetical["conditional_verbs"])
        self.actual = PhraseSet(hypothetical["actual"])
        self.claims_own = PhraseSet(hypothetical["claims_own"])
        self.own = PhraseSet(hypothetical["own"])
        benign = dict(data["benign"])
        self.override = PhraseSet(benign.pop("override"))
        self.simile = PhraseSet(benign.pop("simile"))
        self.simile_reach = int(benign.pop("simile_reach"))
        self.cause_overrides = {name: PhraseSet(words) for name, words in benign.pop("cause_overrides").items()}
        # A cause may explain only some words: a dye explains a colour, not a wound ("a wet patch
        # on my sock").
        targets = benign.pop("targets", {})
        self.benign_targets = {name: PhraseSet(words) for name, words in targets.items()}
        self.benign = {name: PhraseSet(words) for name, words in benign.items()}
        self.coloured_things = PhraseSet(data["coloured_things"])
        self.alike = {w: frozenset().union(*(g for g in data["alike"] if w in g))
                      for group in data["alike"] for w in group}
        self.question_starts = PhraseSet(data["asked_worse"]["starts"])
        self.asked_worse = PhraseSet(data["asked_worse"]["words"])
        self.every_sign = tuple(data.get("every_sign", ()))

    def words(self) -> set[str]:
        """Every word the context lists: never "mended" into a sign word."""
        sets = [self.clause_breaks, *self.negation.phrase_sets(), *self.recovery.phrase_sets(),
                self.past, self.now, self.idioms,
                self.source, self.others, self.past_verbs, self.family, self.family_past_verbs, self.present,
                self.together,
                self.hypothetical, self.conditional, self.conditional_verbs, self.actual, self.claims_own, self.own,
                self.override, self.simile, *self.cause_overrides.values(), *self.benign.values(),
                *self.benign_targets.values(), self.question_starts, self.asked_worse,
                self.coloured_things]
        return set().union(*(s.words() for s in sets)) | set(self.shorthand)

    def read(self, words: list[Word], covered: set[int], inside: set[int] = frozenset()) -> Context:
        """The context of one message. `covered`: positions inside sign terms ("can't feel"),
        where a negation word is part of the sign, not a negation; `inside`: positions inside
        sign terms of several words ("ice cold"), where a harmless cause is part of the sign."""
        texts = [w.text for w in words]
        sentences = _groups_of(words, "sentence")
        clauses = _groups_of(words, "clause")
        negations = self.negation.cues.find(texts)
        forward = self.negation.forward(texts, words, covered, negations)
        negated = forward | self.negation.backward(texts, words, covered)
        # "Pink and warm again" says it is over: its "again" is no return and no worsening.
        recovered = self.recovery.cue_positions(texts)
        # Right after a negation word, a cue or a cause is none, even where that word negates no
        # sign ("not improving", "isn't really getting better").
        denied = {i for _, b, _ in negations for i in ((b, b + 1) if b < len(texts) and texts[b] in _DEGREE else (b,))}
        now_clauses, past_sentences, hypothetical, benign = set(), set(), set(), {}
        asking = {s for s, (start, _) in sentences.items() if self.question_starts.find(texts, start, start + 1)}
        asked_worse = {i for a, b, _ in self.asked_worse.find(texts) if words[a].sentence in asking
                       for i in range(a, b)}
        overridden = {words[a].clause for a, b, _ in self.override.find(texts)
                      if a not in asked_worse and not recovered & set(range(a, b + 1))}
        cause_overridden = {name: {words[a].sentence for a, _, _ in p.find(texts)}
                            for name, p in self.cause_overrides.items()}
        similes = {i for a, b, _ in self.simile.find(texts) for i in range(b, min(len(words), b + self.simile_reach))
                   if words[i].sentence == words[a].sentence}
        # "Mine did" claims a general question for the person; "mine's not on yet" does not.
        negation_starts = {a for a, _, _ in negations}
        claimed = {words[a].sentence for a, b, _ in self.claims_own.find(texts) if b not in negation_starts}
        for sent, (start, stop) in sentences.items():
            past_spans = self.past.find(texts, start, stop)
            masked = {i for a, b, _ in past_spans for i in range(a, b)}
            for a, _, _ in self.now.find(texts, start, stop):
                if a not in masked:
                    now_clauses.add(words[a].clause)
            if past_spans:
                past_sentences.add(sent)
            if sent + 1 not in claimed and sent not in claimed:
                hypothetical |= self._hypothetical(texts, start, stop)
            # A harmless cause inside a sign's words ("ice cold"), negated ("not bruised") or in a
            # comparison ("like a bruised banana") is none.
            benign[sent] = {
                name for name, p in self.benign.items()
                if any(a not in inside | negated | similes | denied for a, _, _ in p.find(texts, start, stop))
            }
        # What a clinician found, told at the end of the story ("... the x-ray showed no break"),
        # explains the signs before it too; not when signs follow it ("the nurse dressed it. now
        # there's pus"), which are new since.
        found = [s for s in sorted(benign) if benign[s] & set(self.every_sign)]
        if found and not any(words[i].sentence > found[-1] for i in covered):
            for sent in range(found[-1]):
                benign[sent] = benign.get(sent, set()) | (benign[found[-1]] & set(self.every_sign))
        return Context(words, negated, now_clauses, past_sentences, self._reported(texts, words, clauses),
                       hypothetical, benign, overridden, self.every_sign,
                       self.recovery.over(texts, words, sentences, inside, forward | denied),
                       cause_overridden,
                       {words[i].sentence for i in hypothetical},
                       {name: p.positions(texts) for name, p in self.benign_targets.items()},
                       self._colours_of_things(texts))

    def _colours_of_things(self, texts: list[str]) -> set[int]:
        """Colour words said right before a thing that has colours ("blue trainers", "white
        socks", "red wine"): that thing's colour, not the body's."""
        colours = self.benign_targets.get("colour_source")
        if colours is None:
            return set()
        starts = {a for a, _, _ in self.coloured_things.find(texts)}
        return {i for a, b, _ in colours.find(texts) if b in starts for i in range(a, b)}

    def idiom_positions(self, texts: list[str]) -> set[int]:
        return self.idioms.positions(texts)


    def _hypothetical(self, texts: list[str], start: int, stop: int) -> set[int]:
        """The positions a general question covers: the sentence, or only from its cue on when
        the person spoke of their own before it ("felt a pop in my heel, how long does that take
        to heal?"); the whole sentence for "if" with a verb of what may happen."""
        if self.actual.find(texts, start, stop):
            return set()
        cues = self.hypothetical.find(texts, start, stop)
        if cues:
            first = min(a for a, _, _ in cues)
            return set(range(first if self.own.find(texts, start, first) else start, stop))
        if self.conditional.find(texts, start, stop) and self.conditional_verbs.find(texts, start, stop):
            return set(range(start, stop))
        return set()

    def _reported(self, texts: list[str], words: list[Word], clauses: dict[int, tuple[int, int]]) -> set[int]:
        """Clauses that tell of something read or heard, or of someone else's past."""
        reported: set[int] = set()
        # "my mate broke his leg, bone through the skin, we're in the car park": the person is
        # with them now, so it is no story of the past.
        together = bool(self.together.find(texts))
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
            if active == "source" or (active == "others" and not together):
                reported.add(clause)
        return reported


@dataclass(frozen=True)
class Context:
    words: list[Word]
    negated: set[int]  # word positions
    now_clauses: set[int]
    past_sentences: set[int]
    reported_clauses: set[int]
    hypothetical: set[int]  # word positions
    benign: dict[int, set[str]]  # sentence -> harmless causes it gives
    overridden: set[int]  # clauses that say a sign is new or worse
    every_sign: tuple[str, ...] = ()  # harmless causes that count for every sign
    resolved: dict[int | None, set[int]] = None  # word positions an "it's over now" covers (see `Recovery.over`)
    cause_overridden: dict[str, set[int]] = None  # cause -> sentences that say it does not explain this
    hypothetical_sentences: set[int] = frozenset()
    targets: dict[str, set[int]] = None  # cause -> positions of the only words it can explain
    thing_colours: set[int] = frozenset()  # a thing's colour words ("blue trainers")

    def status(self, position: int, explained_by: tuple[str, ...] = (), counts_when_over: bool = False,
               end: int | None = None, own: frozenset[int] = frozenset()) -> str:
        """What the sign words at `position` (to `end`) count as; `own`: the positions of the
        sign's words."""
        word = self.words[position]
        if position in self.negated:
            return NEGATED
        if word.clause in self.reported_clauses:
            return REPORTED
        if word.sentence in self.past_sentences and word.clause not in self.now_clauses:
            return PAST
        if not counts_when_over and any(position in over for named, over in (self.resolved or {}).items()
                                        if named is None or named in own):
            return RESOLVED
        if position in self.hypothetical:
            return HYPOTHETICAL
        if position in self.thing_colours:
            return EXPLAINED
        near = {word.clause - 1, word.clause, word.clause + 1}
        span = set(range(position, end or position + 1))
        targets = self.targets or {}
        causes = {c for c in self.benign.get(word.sentence, set()) & {*explained_by, *self.every_sign}
                  if word.sentence not in (self.cause_overridden or {}).get(c, set())
                  and (c not in targets or span & targets[c])}
        if causes and not near & self.overridden:
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
