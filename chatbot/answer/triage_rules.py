"""The rules floor: signs fire when their word groups meet, read in context.

A sign fires when, for one of its `requires` lists, every lexicon group has a word that counts
(see triage_context.py) in one clause or the next, and every circumstance group has one
anywhere in the message or in the person's recent turns ("fell off a ladder" earlier, "now my
foot is cold and white" now). A sign whose words meet only inside a general or "what if"
question is `asked`: the person gets the guidance as an answer, not an alarm.

The same reading gives the learned detector its rule features (`features`), one row per unit
of text (the whole message, or one sentence of it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chatbot.answer.triage_context import AFFIRMED, EXPLAINED, HYPOTHETICAL, NEGATED, Context, ContextRules
from chatbot.answer.triage_signs import Sign, SignBook
from chatbot.answer.triage_text import PhraseSet, Speller, Word, words_of

HISTORY_TURNS = 3  # the person's recent turns whose circumstances count
_ANYWHERE = frozenset({NEGATED, HYPOTHETICAL, EXPLAINED})  # set aside anywhere, they keep the detector out
_CONTEXT_FLAGS = 6


@dataclass(frozen=True)
class Reading:
    """One message read against every sign."""

    words: list[Word]
    context: Context
    # sign id -> group -> [(word position, status)] in the message
    found: dict[str, dict[str, list[tuple[int, str]]]]
    earlier: dict[str, set[str]]  # sign id -> circumstance groups from recent turns
    cancelled: dict[str, set[int]]  # sign id -> clauses where an `unless` group cancels it


class SignRules:
    def __init__(self, book: SignBook, context: ContextRules, dictionary: frozenset[str] = frozenset()) -> None:
        self.book = book
        self.context = context
        self.groups = {s.id: {g: PhraseSet(t, context.alike) for g, t in s.groups().items()} for s in book.signs}
        self.unless = {s.id: PhraseSet((t for terms in s.unless.values() for t in terms), context.alike)
                       for s in book.signs}
        sign_words = set().union(*(p.words() for groups in self.groups.values() for p in groups.values()))
        # Mend typos towards sign words only, never away from a word the context or an `unless` relies on.
        kept = frozenset(context.words()).union(*(p.words() for p in self.unless.values()))
        self.speller = Speller(sign_words, dictionary | kept) if dictionary else None
        self._turns: dict[str, dict[str, set[str]]] = {}  # earlier turns, read once

    def read(self, message: str, history: list[str] = ()) -> Reading:
        words = words_of(message, self.context.clause_breaks, self.speller, self.context.shorthand)
        texts = [w.text for w in words]
        clauses = _clause_spans(words)
        # A sign's words inside an idiom ("cabin fever", "a bit") are none; words that hold one
        # ("a bit off") still count.
        idioms = self.context.idiom_positions(texts)
        raw: dict[str, dict[str, list[tuple[int, int]]]] = {}
        covered: set[int] = set()
        inside: set[int] = set()  # inside a sign's words of two or more ("ice cold")
        for sign in self.book.signs:
            raw[sign.id] = {}
            for group, phrases in self.groups[sign.id].items():
                spans = [(a, b) for start, stop in clauses for a, b, _ in phrases.find(texts, start, stop)
                         if not set(range(a, b)) <= idioms]
                raw[sign.id][group] = spans
        every_span = {span for groups in raw.values() for spans in groups.values() for span in spans}
        cue_starts = {a: b for a, b, _ in self.context.negation.cues.find(texts)}
        for span in every_span:
            a, b = span
            # A sign's term that is a denial of another sign's word ("no pain" for a deep burn)
            # still denies that word for the others; "can't feel" is a sign of its own.
            if a in cue_starts and (cue_starts[a], b) in every_span:
                continue
            covered |= set(range(a, b))
            if b - a > 1:
                inside |= set(range(a, b))
        context = self.context.read(words, covered, inside)
        own = {s.id: frozenset(i for spans in raw[s.id].values() for a, b in spans for i in range(a, b))
               for s in self.book.signs}
        found = {
            sign.id: {
                group: [(a, self._status(context, sign, group, a, b, own[sign.id])) for a, b in spans]
                for group, spans in raw[sign.id].items()
            }
            for sign in self.book.signs
        }
        cancelled = {}
        for sign in self.book.signs:
            # An `unless` word inside the sign's own words ("sounds drunk") is part of the sign.
            cancelled[sign.id] = {words[a].clause for a, b, _ in self.unless[sign.id].find(texts)
                                  if not set(range(a, b)) <= own[sign.id]}
        return Reading(words, context, found, self._earlier(history), cancelled)

    def _status(self, context: Context, sign: Sign, group: str, position: int, end: int,
                own: frozenset[int]) -> str:
        if group in sign.circumstances:
            return AFFIRMED if context.circumstance_counts(position) else NEGATED
        return context.status(position, sign.explained_by, sign.counts_when_over, end, own)

    def _earlier(self, history: list[str]) -> dict[str, set[str]]:
        """Per sign, the groups that counted in the person's recent turns."""
        earlier: dict[str, set[str]] = {s.id: set() for s in self.book.signs}
        for turn in list(history)[-HISTORY_TURNS:]:
            for sign_id, groups in self._groups_in(turn).items():
                earlier[sign_id] |= groups
        return earlier

    def _groups_in(self, turn: str) -> dict[str, set[str]]:
        """The groups that count in one earlier turn; a conversation sends the same turns again
        with every message, so they are kept."""
        groups = self._turns.get(turn)
        if groups is None:
            reading = self.read(turn)
            # A body part named in a general question ("what causes pain in the ankle?") counts
            # too: the next turn often answers it ("mine is hot and red now").
            groups = {s.id: {g for g, hits in reading.found[s.id].items()
                             if any(st == AFFIRMED or (st == HYPOTHETICAL and g in s.lexicon) for _, st in hits)}
                      for s in self.book.signs}
            if len(self._turns) >= 1024:
                self._turns.pop(next(iter(self._turns)))
            self._turns[turn] = groups
        return groups

    # --- deciding ------------------------------------------------------------------------
    def fired(self, reading: Reading, clauses: range | None = None) -> list[Sign]:
        return [s for s in self.book.signs if self._meets(reading, s, {AFFIRMED}, clauses)]

    def asked(self, reading: Reading) -> list[Sign]:
        """Signs whose words meet only inside a general or "what if" question."""
        return [s for s in self.book.signs
                if not self._meets(reading, s, {AFFIRMED}) and self._meets(reading, s, {AFFIRMED, HYPOTHETICAL})]

    def _meets(self, reading: Reading, sign: Sign, counting: set[str], clauses: range | None = None,
               ) -> bool:
        return any(self._coverage(reading, sign, r, counting, clauses) == 1.0 for r in sign.requires)

    def _coverage(self, reading: Reading, sign: Sign, requirement: tuple[str, ...], counting: set[str] | None,
                  clauses: range | None = None) -> float:
        """The share of a requirement's groups present (all statuses when `counting` is None),
        lexicon groups in the best pair of neighbouring clauses."""
        found = reading.found[sign.id]
        words = reading.words

        cancelled = reading.cancelled[sign.id] if counting is not None else set()

        def clauses_of(group: str) -> set[int]:
            return {words[p].clause for p, status in found[group]
                    if (counting is None or status in counting) and (clauses is None or words[p].clause in clauses)
                    and words[p].clause not in cancelled}

        earlier = reading.earlier[sign.id]
        circumstances = [g for g in requirement if g in sign.circumstances]
        here = [g for g in circumstances if clauses_of(g)
                or (clauses is not None and self._anywhere(reading, sign, g, counting))]
        where = {g: clauses_of(g) for g in requirement if g not in sign.circumstances}
        starts = set().union(*where.values()) if where else set()
        best: set[str] = set()
        for start in starts | {c - sign.near for c in starts}:
            window = set(range(start, start + sign.near + 1))
            if window & cancelled:
                continue
            best = max(best, {g for g, found_in in where.items() if found_in & window}, key=len)
        # Groups said in recent turns complete the message, which must add one of its own; a
        # requirement the earlier turns met by themselves was answered then, and is not again.
        own = set(here) | best
        have = own | ({g for g in requirement if g in earlier} if own and not set(requirement) <= earlier else set())
        return len(have) / len(requirement)

    def _anywhere(self, reading: Reading, sign: Sign, group: str, counting: set[str] | None) -> bool:
        return any(counting is None or status in counting for _, status in reading.found[sign.id][group])

    def sign_words(self, reading: Reading, signs: list[Sign]) -> set[int]:
        """Positions of the words of these signs' own groups."""
        return {p for sign in signs for group in sign.lexicon for p, _ in reading.found[sign.id][group]}

    def evidence(self, reading: Reading, sign: Sign) -> str | None:
        """How much the learned detector has to stand on for `sign`: "most" when one of its
        requirements has every circumstance (diabetes, an injury) and all but one of its own
        groups counting (both of two), "some" when it has the circumstances and half its own
        groups (one of two), "little" when it has the circumstances and fewer of its own groups
        (one of three), else None: the detector does not guess from nothing. None too when
        context set some of the sign's words aside (negated, past, someone else's, a general
        question, explained) where its other words are; words in a clause an `unless` cancels
        do not count."""
        found, earlier = reading.found[sign.id], reading.earlier[sign.id]
        # A denial, a general question or a harmless cause anywhere keeps the detector out; an
        # old story only in the sentences of the sign's other words ("a knee operation a while
        # back. Last night ..." does not).
        hits = [(reading.words[p].sentence, status) for group in sign.lexicon for p, status in found[group]]
        counted = {sentence for sentence, status in hits if status == AFFIRMED}
        if any(status in _ANYWHERE or (status != AFFIRMED and (not counted or sentence in counted))
               for sentence, status in hits):
            return None
        # Words in a clause an `unless` cancels ("a temperature of 37.2", "the tab on my shoe") are none.
        cancelled = reading.cancelled[sign.id]

        best = None
        for requirement in sign.requires:
            before = earlier if not set(requirement) <= earlier else set()

            def counts(group: str, before: set[str] = before) -> bool:
                return any(status == AFFIRMED and reading.words[p].clause not in cancelled for p, status in found[group]
                           ) or group in before

            own = [g for g in requirement if g in sign.lexicon]
            if not all(counts(g) for g in requirement if g in sign.circumstances):
                continue
            have = sum(map(counts, own))
            if have >= (len(own) if len(own) <= 2 else len(own) - 1):
                return "most"
            if have and 2 * have >= len(own):
                best = "some"
            elif have:
                best = best or "little"
        return best

    def open_alone(self, reading: Reading, sign: Sign) -> bool:
        """Whether the detector may name `sign` on its own reading, beyond the rules' evidence:
        the sign's circumstances are there (diabetes for a diabetic foot), some of its own words
        are said, and none of them is denied, past, over, someone else's, in a general question
        or in a clause its `unless` cancels. A harmless cause the word lists found ("going up
        the stairs", "was told to") it may outweigh."""
        found, cancelled = reading.found[sign.id], reading.cancelled[sign.id]
        hits = [(p, status) for group in sign.lexicon for p, status in found[group]]
        if not hits or any(status not in (AFFIRMED, EXPLAINED) or reading.words[p].clause in cancelled
                           for p, status in hits):
            return False
        earlier = reading.earlier[sign.id]
        return any(all(group in earlier or any(status == AFFIRMED for _, status in found[group])
                       for group in requirement if group in sign.circumstances)
                   for requirement in sign.requires)

    def features(self, reading: Reading, clauses: range | None = None) -> np.ndarray:
        """Per sign: the best share of a requirement present at all, the best share that counts,
        and whether it fires; then six flags of the context found."""
        row = []
        for sign in self.book.signs:
            raw = max(self._coverage(reading, sign, r, None, clauses) for r in sign.requires)
            counted = max(self._coverage(reading, sign, r, {AFFIRMED}, clauses) for r in sign.requires)
            row += [raw, counted, float(counted == 1.0)]
        ctx, words = reading.context, reading.words
        inside = [i for i, w in enumerate(words) if clauses is None or w.clause in clauses]
        sentences = {words[i].sentence for i in inside}
        over = set().union(*ctx.resolved.values())
        row += [
            float(any(i in ctx.negated for i in inside)),
            float(bool(sentences & ctx.past_sentences) or any(i in over for i in inside)),
            float(any(words[i].clause in ctx.reported_clauses for i in inside)),
            float(bool(sentences & ctx.hypothetical_sentences)),
            float(any(ctx.benign.get(s) for s in sentences)),
            float(any(words[i].clause in ctx.now_clauses for i in inside)),
        ]
        return np.asarray(row, np.float32)

    @property
    def n_features(self) -> int:
        return 3 * len(self.book.signs) + _CONTEXT_FLAGS

    def without_signs(self, features: np.ndarray) -> np.ndarray:
        """Rows of [embedding, rule features] as if the rules had found no sign's words: the
        signs' features blanked, the context's kept (how the detector also learns each row)."""
        blanked = features.copy()
        blanked[:, features.shape[1] - self.n_features:features.shape[1] - _CONTEXT_FLAGS] = 0.0
        return blanked


def _clause_spans(words: list[Word]) -> list[tuple[int, int]]:
    spans: dict[int, tuple[int, int]] = {}
    for i, word in enumerate(words):
        spans[word.clause] = (spans[word.clause][0], i + 1) if word.clause in spans else (i, i + 1)
    return [spans[c] for c in sorted(spans)]
