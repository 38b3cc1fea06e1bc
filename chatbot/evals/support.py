"""Answer support: how much of an answer is the article's own text.

Definition (for replies of kind "answer"; N/A for other kinds):

1. The safety footer is cut off first: the red flags, the disclaimer, the heading above them
   and the rule line before them. They are checked on their own (red-flag and disclaimer
   presence), and they are article or fixed text anyway.
2. What is left is read line by line. Blank lines and rules are skipped. Section labels of the
   form ``**Heading › Sub-heading** [1]`` are structure, not claims: skipped (citation validity
   checks what they point to). Lines that are the bot's own connecting phrases (from
   `chatbot/rules/replies.yaml`, the dosing pointer and the disclaimer in
   `chatbot/rules/safety.yaml`) are skipped: they say nothing medical.
3. Every other line is a content line. It is supported when, after normalising (lowercase,
   straight quotes, Markdown emphasis, citation markers and list bullets removed), it appears
   in the text of the sections the reply cites. The composer joins a parent list item to its
   sub-items with ": " and "; " and writes table rows as "<cause> is listed as a likely cause
   of: <symptom>", so a line that is not found whole is cut at ":" ";" and sentence ends, the
   bot's own phrases are taken out, and it is supported when every remaining fragment is found.
4. Support = supported content lines / content lines. An answer with no content lines is N/A;
   content with no citations is unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.evals.metrics import normalize

_LABEL = re.compile(r"^\*\*[^*]+\*\*(\s*\[\d+\])+\s*$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MARKER = re.compile(r"\s*\[\d+\]")
_FOOTER_HEADING = re.compile(r"^\s*\*\*[^*]+:\*\*\s*$")


@dataclass(frozen=True)
class Support:
    supported: int
    lines: int  # content lines judged
    unsupported: tuple[str, ...] = ()

    @property
    def value(self) -> float | None:
        return self.supported / self.lines if self.lines else None


def split_footer(answer: str, red_flags: Sequence[str], disclaimer: str) -> tuple[str, str]:
    """(body, footer). The footer starts at the last appearance of the first red flag or the
    disclaimer, moved up over the heading and rule line that introduce it."""
    anchors = [answer.rfind(text) for text in [*red_flags, disclaimer] if text]
    anchors = [a for a in anchors if a >= 0]
    if not anchors:
        return answer, ""
    start = answer.rfind("\n", 0, min(anchors)) + 1
    lines = answer[:start].split("\n")
    while lines and (not lines[-1].strip() or _RULE.match(lines[-1]) or _FOOTER_HEADING.match(lines[-1])):
        lines.pop()
    body = "\n".join(lines)
    return body, answer[len(body):]


def answer_support(body: str, cited_texts: Sequence[str], own_phrases: Sequence[str]) -> Support:
    source = normalize("\n".join(cited_texts))
    phrases = sorted({normalize(p) for p in own_phrases if p.strip()}, key=len, reverse=True)
    supported, lines, unsupported = 0, 0, []
    for raw in body.split("\n"):
        if not raw.strip() or _RULE.match(raw) or _LABEL.match(raw.strip()):
            continue
        line = normalize(_MARKER.sub("", _BULLET.sub("", raw)))
        if not re.search(r"[a-z0-9]", line) or _is_own(line, phrases):
            continue
        lines += 1
        if source and _found(line, source, phrases):
            supported += 1
        else:
            unsupported.append(raw.strip())
    return Support(supported, lines, tuple(unsupported))


def _is_own(line: str, phrases: Sequence[str]) -> bool:
    """The line is one of the bot's phrases, a good part of one, or made only of them."""
    if any(line == p or (line in p and len(line.split()) >= 4) for p in phrases):
        return True
    rest = line
    for p in phrases:
        rest = rest.replace(p, " ")
    return not re.search(r"[a-z0-9]", rest)


def _found(line: str, source: str, phrases: Sequence[str]) -> bool:
    if line in source:
        return True
    for p in phrases:
        line = line.replace(p, "|")
    fragments = [f.strip(" .,-") for f in re.split(r"[|:;]|(?<=[.!?])\s", line)]
    fragments = [f for f in fragments if re.search(r"[a-z0-9]", f)]
    return bool(fragments) and all(f in source for f in fragments)
