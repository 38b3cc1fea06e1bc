"""Text helpers every stage shares: apostrophes, list numbers in headings, plain words.

Articles and patients write the same word with a curly or a straight apostrophe, headings
carry list numbers ("4. Heel Spur") and notes in brackets ("(Most Common)").
These helpers make such text compare equal, once, in one place.
"""

from __future__ import annotations

import re

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
_LIST_NUMBER = re.compile(r"^\s*\d+[.)]\s*")
_BRACKETED_END = re.compile(r"\s*\([^)]*\)\s*$")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def straight_quotes(text: str) -> str:
    """Curly quotes and apostrophes made straight."""
    return text.translate(_QUOTES)


def normalize(text: str) -> str:
    """Straight quotes, single spaces: what the rules' patterns are matched against."""
    return " ".join(straight_quotes(text).split())


def unnumbered(heading: str) -> str:
    """"4. Heel Spur" -> "Heel Spur"."""
    return _LIST_NUMBER.sub("", heading)


def heading_name(heading: str) -> str:
    """A heading as a name: no list number, no note in brackets at its end.
    "1. Plantar Fasciitis (Most Common)" -> "Plantar Fasciitis"."""
    return _BRACKETED_END.sub("", unnumbered(heading)).strip()


def heading_key(heading: str) -> str:
    """Lowercase words only, for comparing headings: "Diagnosis: What to Expect" -> "diagnosis what to expect"."""
    return " ".join(words(unnumbered(heading).replace("'", "")))


def words(text: str) -> list[str]:
    """Lowercase words (apostrophes inside a word kept: "don't")."""
    return _WORD.findall(straight_quotes(text).lower())
