"""Negation, for every triage sign (word lists: `negation:` in `rules/triage_context.yaml`).

    Negation(data).negated(texts, words, covered, cues) -> positions of the words denied

A cue ("no", "isn't") denies the words after it, within `scope` words and through a list ("isn't
cold, pale or blue", "none of the joints are swollen or red"), but not past a word that ends
it, nor into a clause that starts another thought ("no fever, my ankle is hot"). Some words
deny what was said before them ("my face and speech are all fine").
"""

from __future__ import annotations

from chatbot.answer.triage_text import PhraseSet, Word

_LIST_WORDS = frozenset({"or", "nor"})
# Words of a denied list that are not its subject: "my face, arms and the speech are fine".
_FILLERS = frozenset({"my", "the", "his", "her", "their", "your", "our", "and", "or", "a", "an", "both", "all", "of",
                      "its", "it", "is", "are", "also", "too"})


class Negation:
    def __init__(self, data: dict) -> None:
        self.cues = PhraseSet(data["cues"])
        self.pseudo = PhraseSet(data["pseudo"])  # look like negations but are not ("not sure")
        self.scope = int(data["scope"])
        self.scope_ends = PhraseSet(data["scope_ends"])
        self.clause_scope_ends = PhraseSet(data["clause_scope_ends"])
        self.after = PhraseSet(data["after"])

    def phrase_sets(self) -> list[PhraseSet]:
        return [self.cues, self.pseudo, self.scope_ends, self.clause_scope_ends, self.after]

    def negated(self, texts: list[str], words: list[Word], covered: set[int],
                negations: list[tuple[int, int, str]]) -> set[int]:
        return self.forward(texts, words, covered, negations) | self.backward(texts, words, covered)

    def forward(self, texts: list[str], words: list[Word], covered: set[int],
                negations: list[tuple[int, int, str]]) -> set[int]:
        """A negation reaches `scope` words on, through a list ("isn't cold, pale or blue"), but
        not past a word that ends it, nor into a clause that starts with one ("no fever, my
        ankle is hot")."""
        pseudo = {i for a, b, _ in self.pseudo.find(texts) for i in range(a, b)}
        ends = {a for a, _, _ in self.scope_ends.find(texts)}
        clause_ends = {a for a, _, _ in self.clause_scope_ends.find(texts)}
        negated: set[int] = set()
        for a, b, _ in negations:
            if a in covered or a in pseudo:
                continue
            for i in range(b, min(len(words), b + self.scope)):
                if words[i].sentence != words[a].sentence or (i in ends and i not in covered):
                    break
                if words[i].clause != words[i - 1].clause and (i in clause_ends or i in ends):
                    break
                negated.add(i)
            else:
                # A list runs on past the scope: "none of the joints are swollen or red".
                i = b + self.scope
                while i < len(words) and words[i].sentence == words[a].sentence and i - 1 in negated:
                    if texts[i - 1] in _LIST_WORDS and i in covered:
                        negated.add(i)
                        i += 1
                    elif texts[i] in _LIST_WORDS and i + 1 < len(words) and i + 1 in covered:
                        negated |= {i, i + 1}
                        i += 2
                    else:
                        break
        return negated

    def backward(self, texts: list[str], words: list[Word], covered: set[int]) -> set[int]:
        """Said after the words it denies: "my face, arms and speech are all fine"; not back past
        the start of a clause that names its own subject first ("my calf is swelling, the left
        is ok")."""
        ends = {a for a, _, _ in self.scope_ends.find(texts)}
        clause_ends = {a for a, _, _ in self.clause_scope_ends.find(texts)}
        negated: set[int] = set()
        for a, _, _ in self.after.find(texts):
            start = next(i for i in range(a, -1, -1) if i == 0 or words[i - 1].clause != words[a].clause)
            subject = any(i not in covered and texts[i] not in _FILLERS for i in range(start, a))
            for i in range(a - 1, max(-1, a - 1 - self.scope), -1):
                if words[i].sentence != words[a].sentence or i in ends or (subject and i < start):
                    break
                negated.add(i)
                if words[i].clause != words[i - 1].clause and i in clause_ends:
                    break
        return negated
