"""The reply a person reads, as the web page, widget, API and evaluations all receive it.

As JSON (field names are a contract)::

    {"answer": "<Markdown, red flags and disclaimer included>",
     "kind": "answer" | "emergency" | "out_of_scope" | "smalltalk",
     "citations": [{"n": 1, "id": "...", "section": "...", "quote": "...", "score": 0.83}],
     "red_flags": ["..."],
     "disclaimer": "..."}
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal

Kind = Literal["answer", "emergency", "out_of_scope", "smalltalk"]
KINDS: tuple[str, ...] = ("answer", "emergency", "out_of_scope", "smalltalk")


@dataclass(frozen=True)
class Citation:
    n: int
    id: str
    section: str
    quote: str  # an exact substring of the cited chunk's text
    score: float


@dataclass(frozen=True)
class Reply:
    answer: str
    kind: Kind
    citations: list[Citation] = field(default_factory=list)
    red_flags: list[str] = field(default_factory=list)
    disclaimer: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        for citation in data["citations"]:
            citation["score"] = round(float(citation["score"]), 4)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Reply:
        return cls(
            answer=data["answer"],
            kind=data["kind"],
            citations=[Citation(**c) for c in data.get("citations", [])],
            red_flags=list(data.get("red_flags", [])),
            disclaimer=data.get("disclaimer", ""),
        )

    def pieces(self) -> list[str]:
        """The answer cut into pieces for streaming: each line, words kept whole.

        Joined, the pieces give back `answer` exactly.
        """
        return [piece for piece in re.split(r"(?<=\n)", self.answer) if piece]


def markers(text: str) -> list[int]:
    """The citation numbers used in a text: "... [1] ... [2]" -> [1, 2]."""
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]
