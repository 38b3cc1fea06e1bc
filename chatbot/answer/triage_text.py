"""Text as triage reads it: normalised words in sentences and clauses, phrases found among them,
and typos mended towards the signs' own words.

    "My foot's gone WHITE, and it's cold!" -> words: my foots gone white | and its cold
                                              (one sentence, two clauses)

Phrases are lists of words; a word ending in "*" matches any ending ("numb*"), "#" is any
digit ("in 20##"), a lone "*" is any one word and "..." up to four ("can ... cause"). A
PhraseSet may be told which words stand for each other (`alike`: "my" for "his", "her" ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_TOKEN = re.compile(r"[a-z0-9]+(?:[.&][a-z0-9]+)*|[.!?;,\n]")
_SENTENCE_END = frozenset(".!?;\n")


# "it's", "he's", "what's" keep their "s" ("its", "hes"); a noun's "'s" is dropped ("dad's foot's
# gone" -> "dad foot gone") so that "dad" and "foot" are found as themselves.
_CONTRACTED_S = re.compile(r"\b(?!(?:it|he|she|that|what|there|here|who|where|how|let|one|nothing|"
                           r"something|everything)'s\b)([a-z]+)'s\b")


# Contractions that would become other words without their apostrophe ("I'll" is no "ill",
# "we're" no "were", "he'll" no "hell").
_AMBIGUOUS = re.compile(r"\b(i|you|he|she|we|they|it)'(ll|re)\b")
_SPELLED_OUT = {"ll": "will", "re": "are"}


def normalize(text: str) -> str:
    """Lowercase; a noun's "'s" dropped, other apostrophes dropped ("can't" -> "cant");
    hyphens and slashes become spaces."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("`", "'")
    text = _AMBIGUOUS.sub(lambda m: f"{m.group(1)} {_SPELLED_OUT[m.group(2)]}", text)
    text = _CONTRACTED_S.sub(r"\1", text)
    return re.sub(r"[-_/]", " ", text.replace("'", ""))


@dataclass(frozen=True)
class Word:
    text: str  # after typo repair
    sentence: int
    clause: int  # numbered across the whole message


def words_of(text: str, clause_breaks: PhraseSet | None = None, speller: Speller | None = None,
             shorthand: dict[str, str] | None = None) -> list[Word]:
    """The message's words, each with its sentence and clause. A clause ends at , ; . ! ? a new
    line, or before a clause-break phrase ("but", "and then"). Text shorthand is spelled out
    first ("n" -> "and", "rly" -> "really")."""
    raw: list[tuple[str, int]] = []  # (word, sentence)
    commas: set[int] = set()  # a clause ends before the word at this index
    sentence = 0
    for token in _TOKEN.findall(normalize(text)):
        if token in _SENTENCE_END:
            if raw and raw[-1][1] == sentence:
                sentence += 1
        elif token == ",":
            commas.add(len(raw))
        else:
            token = shorthand.get(token, token) if shorthand else token
            raw.append((speller.mend(token) if speller else token, sentence))
    texts = [w for w, _ in raw]
    starts = set(commas)
    if clause_breaks is not None:
        starts |= {start for start, _, _ in clause_breaks.find(texts)}
    words, clause = [], 0
    for i, (word, sent) in enumerate(raw):
        if i and (sent != raw[i - 1][1] or i in starts):
            clause += 1
        words.append(Word(word, sent, clause))
    return words


Part = re.Pattern | str | frozenset[str]


class PhraseSet:
    """Finds any of a list of phrases in a list of words, whole words only. `alike`: a word of
    a phrase that matches any of several ("my" -> {my, his, her, ...})."""

    def __init__(self, phrases: Iterable[str], alike: Mapping[str, frozenset[str]] | None = None) -> None:
        self.phrases = tuple(dict.fromkeys(p for p in (" ".join(normalize(str(x)).split()) for x in phrases) if p))
        self._literal: dict[str, list[tuple[Part, ...]]] = {}
        self._other: list[tuple[Part, ...]] = []
        for phrase in self.phrases:
            parts = tuple((alike or {}).get(w) or _part(w) for w in phrase.split())
            first = parts[0]
            if isinstance(first, str | frozenset):
                for word in (first,) if isinstance(first, str) else sorted(first):
                    self._literal.setdefault(word, []).append(parts)
            else:
                self._other.append(parts)

    def find(self, words: list[str], start: int = 0, stop: int | None = None) -> list[tuple[int, int, str]]:
        """(start, end, phrase) of every match in words[start:stop], longest first at each place."""
        stop = len(words) if stop is None else stop
        found = []
        for i in range(start, stop):
            candidates = self._literal.get(words[i], []) + self._other
            best = max((_match_end(p, words, i, stop) for p in candidates), default=-1)
            if best > i:
                found.append((i, best, " ".join(words[i:best])))
        return found

    def words(self) -> set[str]:
        return {w for p in self.phrases for w in p.split() if w.isalpha()}

    def positions(self, words: list[str], start: int = 0, stop: int | None = None) -> set[int]:
        return {i for a, b, _ in self.find(words, start, stop) for i in range(a, b)}


_GAP = "..."
_MAX_GAP = 4


def _part(word: str) -> re.Pattern | str:
    if word == _GAP:
        return _GAP
    if word == "*":
        return re.compile(r"[a-z0-9.&]+")
    if "*" in word or "#" in word:
        return re.compile(re.escape(word).replace(r"\*", "[a-z0-9]*").replace("\\#", "[0-9]").replace("#", "[0-9]"))
    return word


def _match_end(parts: tuple[Part, ...], words: list[str], i: int, stop: int) -> int:
    """Where a phrase matching at words[i] ends (exclusive), or -1."""
    if not parts:
        return i
    part, rest = parts[0], parts[1:]
    if part == _GAP:
        ends = (_match_end(rest, words, i + skip, stop) for skip in range(_MAX_GAP + 1) if i + skip <= stop)
        return max(ends, default=-1)
    if i >= stop:
        return -1
    if isinstance(part, frozenset):
        matched = words[i] in part
    else:
        matched = (words[i] == part) if isinstance(part, str) else part.fullmatch(words[i]) is not None
    if matched:
        return _match_end(rest, words, i + 1, stop)
    return -1


class Speller:
    """Mends a typo to the one sign word it is one edit from ("swolen" -> "swollen"); words the
    model's vocabulary knows ("write", "breeding") are never changed."""

    def __init__(self, targets: Iterable[str], dictionary: frozenset[str]) -> None:
        self.dictionary = dictionary
        self.targets = frozenset(t for t in targets if len(t) >= 4 and t.isalpha())
        self._index: dict[str, set[str]] = {}
        for target in self.targets:
            for key in {target, *_deletions(target)}:
                self._index.setdefault(key, set()).add(target)
        self._cache: dict[str, str] = {}

    def mend(self, word: str) -> str:
        if len(word) < 5 or not word.isalpha() or word in self.targets or word in self.dictionary:
            return word
        # "nicked" (nick), "pints" (pint), "hoping" (hope), "swapping" (swap): a known word with an ending.
        # A stem of two letters is no word ("pssed" is no "ps" with an ending).
        stems = {stem for end in _ENDINGS if word.endswith(end) for stem in _stems(word[: -len(end)]) if len(stem) >= 3}
        if stems & self.dictionary:
            return word
        if word not in self._cache:
            candidates = set().union(*(self._index.get(k, set()) for k in {word, *_deletions(word)}))
            close = sorted((_edit_rank(word, c), c) for c in candidates if _within_one_edit(word, c))
            self._cache[word] = close[0][1] if close else word
        return self._cache[word]


_ENDINGS = ("s", "es", "ed", "d", "ing", "er", "ers", "y")


def _stems(base: str) -> tuple[str, ...]:
    doubled = len(base) > 2 and base[-1] == base[-2] and base[-1] not in "aeiou"
    return (base, base + "e", base[:-1]) if doubled else (base, base + "e")


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _edit_rank(typo: str, word: str) -> int:
    """Which mend is likelier when two sign words are one edit away ("speading": "spreading", not
    "speaking"): a dropped letter first, then swapped neighbours, an extra letter, a wrong one."""
    if len(word) > len(typo):
        return 0
    if len(word) == len(typo):
        return 1 if sorted(word) == sorted(typo) else 3
    return 2


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau: one insertion, deletion, substitution or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


@lru_cache(maxsize=4)
def vocabulary(model_path: Path | None = None) -> frozenset[str]:
    """Whole words of the embedding model's vocabulary (the bundled model by default)."""
    from chatbot.search.embeddings import default_model_path

    path = Path(model_path) if model_path else default_model_path()
    vocab = path / "vocab.txt"
    if vocab.is_file():
        return frozenset(w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha())
    import json

    data = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    return frozenset(w for w in data.get("model", {}).get("vocab", {}) if w.isalpha())
