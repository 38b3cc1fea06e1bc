"""Recovery, for every triage sign (word lists: `resolved:` in `rules/triage_context.yaml`).

    Recovery(data).over(texts, words, sentences, inside, denied) -> {named: positions that are over}

A cue ("went back to normal", "pinked up", "it's stopped") says what came before it in its
sentence, and in the sentence before, is over now; not when something after the cue says it is
back ("... but it's still numb"), nor in a clause that says so itself. A return followed by a
normal state ("and now they're normal") is no return. A recovery only thought or waited for
("a cut I thought had healed", "I'll see if it wears off") is none, nor is a denied one ("hasn't
healed"). A cue that names what stopped ("has stopped sweating") is over only for the signs of
that word.
"""

from __future__ import annotations

from chatbot.answer.triage_text import PhraseSet, Word


class Recovery:
    def __init__(self, data: dict) -> None:
        self.cues = PhraseSet(data["cues"])
        self.returns = PhraseSet(data["returns"])
        self.doubted = PhraseSet(data["doubted"])
        self.states = PhraseSet(data["states"])

    def phrase_sets(self) -> list[PhraseSet]:
        return [self.cues, self.returns, self.doubted, self.states]

    def cue_positions(self, texts: list[str]) -> set[int]:
        """The words of every cue: "pink and warm again" is over, its "again" no return."""
        return {i for a, b, _ in self.cues.find(texts) for i in range(a, b)}

    def over(self, texts: list[str], words: list[Word], sentences: dict[int, tuple[int, int]],
             inside: set[int], denied: set[int]) -> dict[int | None, set[int]]:
        """Positions a cue covers, keyed by the position of the word it names as what stopped
        (None: over for every sign). `inside`: positions inside sign terms ("has not stopped
        bleeding" is a sign, not a recovery); `denied`: positions a negation reaches."""
        recovered = self.cue_positions(texts)
        states = {a for a, _, _ in self.states.find(texts)}
        returns = [(a, b) for a, b, _ in self.returns.find(texts) if a not in recovered
                   and not any(i in states and words[i].clause == words[a].clause for i in range(b, b + 3))]
        doubted = {i for _, b, _ in self.doubted.find(texts) for i in range(b, b + 3)}
        back_clauses = {words[a].clause for a, _ in returns}
        out: dict[int | None, set[int]] = {None: set()}
        for a, b, _ in self.cues.find(texts):
            if a in inside or a in denied or a in doubted:
                continue
            named = b if b < len(texts) and texts[b].endswith("ing") and words[b].clause == words[a].clause else None
            sent = words[a].sentence
            if any(b <= r < sentences[sent][1] for r, _ in returns):
                continue
            start = sentences[sent - 1][0] if sent - 1 in sentences else sentences[sent][0]
            out.setdefault(named, set()).update(
                i for i in range(start, b + (named is not None))
                if words[i].clause not in back_clauses or words[i].clause == words[a].clause)
        return out
