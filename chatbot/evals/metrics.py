"""Metric functions: pure, no model, no I/O. Each takes plain values and returns a number, or
None where the metric does not apply (None is "N/A", never 0).

Retrieval metrics take `ranked` (chunk ids, best first) and `relevant` (one group of chunk ids
per expected section: a long section split in parts is still one section, found if any of its
parts is). Relevance is binary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence

Groups = Sequence[Collection[str]]


# --- retrieval --------------------------------------------------------------------------
def hit_at_k(ranked: Sequence[str], relevant: Groups, k: int) -> float | None:
    """1 if any expected section is in the top k, else 0."""
    if not relevant:
        return None
    wanted = set().union(*relevant)
    return 1.0 if any(cid in wanted for cid in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Groups, k: int) -> float | None:
    """Share of the expected sections found in the top k."""
    if not relevant:
        return None
    top = set(ranked[:k])
    return sum(1 for group in relevant if top.intersection(group)) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: Groups) -> float | None:
    """1/rank of the first expected section in the list (0 if none is there); MRR is its mean."""
    if not relevant:
        return None
    wanted = set().union(*relevant)
    return next((1.0 / rank for rank, cid in enumerate(ranked, start=1) if cid in wanted), 0.0)


def ndcg_at_k(ranked: Sequence[str], relevant: Groups, k: int) -> float | None:
    """Binary nDCG: a hit gains 1/log2(rank+1) the first time its section is seen (a second
    part of the same section gains nothing); the ideal puts every section first."""
    if not relevant:
        return None
    credited: set[int] = set()
    dcg = 0.0
    for rank, cid in enumerate(ranked[:k], start=1):
        group = next((i for i, g in enumerate(relevant) if cid in g and i not in credited), None)
        if group is not None:
            credited.add(group)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


# --- citations --------------------------------------------------------------------------
def citation_precision(cited: Sequence[str], relevant: Groups) -> float | None:
    """Share of the citations that are expected sections (N/A without citations or expectations)."""
    if not relevant or not cited:
        return None
    wanted = set().union(*relevant)
    return sum(1 for cid in cited if cid in wanted) / len(cited)


def citation_recall(cited: Sequence[str], relevant: Groups) -> float | None:
    """Share of the expected sections that are cited."""
    if not relevant:
        return None
    return sum(1 for group in relevant if set(cited).intersection(group)) / len(relevant)


def citation_problems(
    answer: str, citations: Sequence[dict], chunk_texts: dict[str, str], retrieved: Collection[str] | None
) -> list[str]:
    """What is wrong with a reply's citations: unknown section, quote not in the section,
    section not among those retrieved (when known), markers without citations or unused."""
    problems = []
    for c in citations:
        n, cid, quote = c.get("n"), c.get("id", ""), c.get("quote", "")
        if cid not in chunk_texts:
            problems.append(f"[{n}] cites unknown section {cid!r}")
        elif not quote or quote not in chunk_texts[cid]:
            problems.append(f"[{n}] quote is not in {cid}")
        elif retrieved is not None and cid not in retrieved:
            problems.append(f"[{n}] cites {cid}, which was not retrieved")
    used = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    numbers = {c.get("n") for c in citations}
    problems += [f"marker [{n}] has no citation" for n in sorted(used - numbers)]
    problems += [f"citation [{n}] is not used in the answer" for n in sorted(numbers - used, key=str)]
    return problems


# --- text checks --------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Lowercase, straight quotes, no Markdown emphasis or table pipes, single spaces."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[*_`|]+", " ", text.lower())
    return " ".join(text.split())


def _phrase(term: str) -> re.Pattern:
    return re.compile(rf"(?<![a-z0-9]){re.escape(normalize(term))}(?![a-z0-9])")


def contains(text: str, term: str) -> bool:
    """Whole-word, case-insensitive: "ice" is in "rest and ice" but not in "notice"."""
    return bool(_phrase(term).search(normalize(text)))


def missing_groups(text: str, groups: Sequence[Sequence[str]]) -> list[list[str]]:
    """The must_include groups with none of their synonyms in the text."""
    return [list(group) for group in groups if not any(contains(text, term) for term in group)]


def present_terms(text: str, banned: Sequence[str]) -> list[str]:
    return [term for term in banned if contains(text, term)]


_DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|milligrams?|mcg|micrograms?|µg|g|grams?|ml|millilit(?:er|re)s?|iu|units?)\b"
    r"|\b(?:\d+|one|two|three|four|five|six)\s+(?:tablets?|pills?|capsules?|caplets?)\b"
    r"|\b(?:once|twice|\d+\s*(?:times|x))\s*(?:a|per)\s*day\b",
    re.I,
)


def dose_amounts(text: str) -> list[str]:
    """Medicine amounts or frequencies ("400 mg", "2 tablets", "3 times a day")."""
    return [m.group(0) for m in _DOSE.finditer(text)]


_MARKER = re.compile(r"\[\d+\]")
_LIST_NUMBER = re.compile(r"^(\s*)\d+[.)]\s+", re.M)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def numbers_in(text: str) -> list[str]:
    """Numbers in a text, leaving out citation markers "[2]" and list numbering "3. "."""
    text = _LIST_NUMBER.sub(r"\1", _MARKER.sub(" ", text))
    return _NUMBER.findall(text)


def invented_numbers(answer: str, article_numbers: Collection[str]) -> list[str]:
    """Numbers in the answer that the article never uses (in any form: list numbers count)."""
    return sorted({n for n in numbers_in(answer) if n not in article_numbers})


def article_numbers(texts: Sequence[str]) -> set[str]:
    return {n for t in texts for n in _NUMBER.findall(t)}


# --- latency --------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default): position q*(n-1)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def confusion(pairs: Sequence[tuple[str, str]], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """matrix[expected][got] = count, with every label as a row and a column."""
    names = list(labels) + sorted({x for pair in pairs for x in pair} - set(labels))
    matrix = {e: dict.fromkeys(names, 0) for e in names}
    for expected, got in pairs:
        matrix[expected][got] += 1
    return matrix

