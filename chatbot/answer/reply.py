"""The reply a person reads, as the web page, widget, API and evaluations all receive it.

A reply's parts are data: consumers render `alert`, `body`, `citations`, `red_flags` and
`disclaimer` from their own fields and never parse `answer` back apart. `answer` is the whole
reply as Markdown, in reading order, for simple clients (a terminal, a plain chat log).

As JSON (field names are a contract)::

    {"answer": "<Markdown: alert, body, red flags and disclaimer>",
     "body": "<Markdown with [n] markers: what was asked, answered>",
     "kind": "answer" | "emergency" | "urgent" | "out_of_scope" | "smalltalk",
     "alert": null | {"level": "emergency" | "urgent", "message": "...", "signs": ["..."]},
     "citations": [{"n": 1, "id": "...", "section": "...", "label": "...", "article_id": "...",
                    "article_title": "...", "quote": "...", "score": 0.83}],
     "red_flags": ["..."], "red_flags_heading": "See a doctor if you have:",
     "red_flags_source": ["<article id>"],
     "notices": [{"kind": "not_covered" | "population" | ..., "text": "..."}],
     "disclaimer": "..."}
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal

Kind = Literal["answer", "emergency", "urgent", "out_of_scope", "smalltalk"]
KINDS: tuple[str, ...] = ("answer", "emergency", "urgent", "out_of_scope", "smalltalk")
ESCALATIONS: tuple[str, ...] = ("emergency", "urgent")  # kinds that put care first
Level = Literal["emergency", "urgent"]


@dataclass(frozen=True)
class Citation:
    n: int
    id: str
    section: str  # the full heading path
    quote: str  # an exact substring of the cited chunk's text
    score: float
    label: str = ""  # how the reply names it: "Heel Spur › Symptoms"
    article_id: str = ""
    article_title: str = ""


@dataclass(frozen=True)
class Alert:
    """Signs that need care now: shown first, above anything else, and announced as an alert."""

    level: Level
    message: str  # what to do, in the bot's own short, plain words
    signs: list[str] = field(default_factory=list)  # what was recognised, in plain words


@dataclass(frozen=True)
class Notice:
    """Something the reply says about itself: a gap in the articles, who they are not written for."""

    kind: str  # "not_covered", "population", ...
    text: str


@dataclass(frozen=True)
class Reply:
    answer: str
    kind: Kind
    citations: list[Citation] = field(default_factory=list)
    red_flags: list[str] = field(default_factory=list)
    disclaimer: str = ""
    body: str = ""
    alert: Alert | None = None
    red_flags_heading: str = ""
    red_flags_source: list[str] = field(default_factory=list)  # article ids the flags were taken from
    notices: list[Notice] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        for citation in data["citations"]:
            citation["score"] = round(float(citation["score"]), 4)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Reply:
        alert = data.get("alert")
        return cls(
            answer=data["answer"],
            kind=data["kind"],
            citations=[Citation(**c) for c in data.get("citations", [])],
            red_flags=list(data.get("red_flags", [])),
            disclaimer=data.get("disclaimer", ""),
            body=data.get("body", ""),
            alert=Alert(**alert) if isinstance(alert, dict) else None,
            red_flags_heading=data.get("red_flags_heading", ""),
            red_flags_source=list(data.get("red_flags_source", [])),
            notices=[Notice(**n) for n in data.get("notices", [])],
        )

    @property
    def escalated(self) -> bool:
        return self.kind in ESCALATIONS

    def pieces(self) -> list[str]:
        """The answer cut into pieces for streaming: each line, words kept whole.

        Joined, the pieces give back `answer` exactly.
        """
        return [piece for piece in re.split(r"(?<=\n)", self.answer) if piece]


def markers(text: str) -> list[int]:
    """The citation numbers used in a text: "... [1] ... [2]" -> [1, 2]."""
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]
