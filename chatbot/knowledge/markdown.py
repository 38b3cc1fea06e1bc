"""The small Markdown reader the chunker and the answer composer share.

An article is a tree of sections (one per heading). A section's own text is a list of
blocks: paragraphs, lists, tables. Blocks break down into units, the smallest pieces a
reply may quote: sentences, list items and table rows. Every unit's `text` is an exact
substring of the Markdown it came from, so a quote can always be checked against its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)(?:[-*+]|(\d+)[.)])\s+(.*)$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# A sentence ends at . ! or ? followed by space and a capital letter, digit or opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z0-9“\"(])")

BlockKind = Literal["paragraph", "list", "table", "rule"]
UnitKind = Literal["sentence", "item", "row"]


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    text: str  # exact substring of the block's Markdown
    depth: int = 0  # nesting depth of a list item
    parent: str = ""  # for a nested item, the text of the item it belongs to
    cells: tuple[str, ...] = ()  # for a table row
    header: tuple[str, ...] = ()  # for a table row, the table's header cells


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    markdown: str

    def units(self) -> list[Unit]:
        if self.kind == "paragraph":
            return [Unit("sentence", s) for s in split_sentences(self.markdown)]
        if self.kind == "list":
            return _list_units(self.markdown)
        if self.kind == "table":
            return _table_units(self.markdown)
        return []


@dataclass
class Section:
    title: str
    level: int  # 0 for the document root
    path: tuple[str, ...]  # headings from the top section down to this one (title excluded)
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def parse_sections(body: str) -> Section:
    """Parse a Markdown body into a section tree. The single `# ` title is the root."""
    root = Section(title="", level=0, path=())
    stack = [root]
    lines: list[str] = []

    def flush() -> None:
        stack[-1].blocks.extend(parse_blocks("\n".join(lines)))
        lines.clear()

    for line in body.splitlines():
        match = _HEADING.match(line)
        if not match:
            lines.append(line)
            continue
        flush()
        level, title = len(match.group(1)), match.group(2).strip()
        if level == 1 and not root.title:
            root.title = title
            continue
        while stack[-1].level >= level:
            stack.pop()
        parent = stack[-1]
        section = Section(title=title, level=level, path=(*parent.path, title))
        parent.children.append(section)
        stack.append(section)
    flush()
    return root


def parse_blocks(text: str) -> list[Block]:
    """Group lines into paragraphs, lists, tables and rules."""
    blocks: list[Block] = []
    kind: BlockKind | None = None
    current: list[str] = []

    def close() -> None:
        nonlocal kind
        if current:
            blocks.append(Block(kind or "paragraph", "\n".join(current)))
        current.clear()
        kind = None

    for line in text.splitlines():
        if not line.strip():
            close()
            continue
        if _RULE.match(line) and kind != "table":
            close()
            blocks.append(Block("rule", line))
            continue
        line_kind: BlockKind = (
            "table" if line.lstrip().startswith("|")
            else "list" if _ITEM.match(line) or (kind == "list" and line.startswith((" ", "\t")))
            else "paragraph"
        )
        if kind is not None and line_kind != kind:
            close()
        kind = line_kind
        current.append(line)
    close()
    return blocks


def split_sentences(text: str) -> list[str]:
    """Split a paragraph on sentence ends; each piece is an exact substring of `text`."""
    text = text.strip()
    if not text:
        return []
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group(0).rstrip())
        pieces.append(text[start:end].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def plain(markdown: str) -> str:
    """Markdown to plain text for embedding, keyword search and display in plain places."""
    text = re.sub(r"^[ \t]*#{1,6}\s+", "", markdown, flags=re.M)
    text = re.sub(r"^[ \t]*(?:[-*+]|\d+[.)])\s+", "", text, flags=re.M)
    text = re.sub(r"(?m)^[ \t]*\|?[ \t]*:?-{3,}.*$", "", text)
    text = re.sub(r"(?m)^[ \t]*\|(.*?)\|?[ \t]*$", lambda m: re.sub(r"[ \t]*\|[ \t]*", " | ", m.group(1).strip()), text)
    text = text.replace("**", "").replace("__", "")
    return re.sub(r"\n{2,}", "\n", text).strip()


def _list_units(markdown: str) -> list[Unit]:
    units: list[Unit] = []
    parents: list[tuple[int, str]] = []  # (indent, text) of the open items above
    for line in markdown.splitlines():
        match = _ITEM.match(line)
        if not match:
            continue
        indent, text = len(match.group(1).expandtabs(4)), match.group(3).strip()
        while parents and parents[-1][0] >= indent:
            parents.pop()
        units.append(Unit("item", text, depth=len(parents), parent=parents[-1][1] if parents else ""))
        parents.append((indent, text))
    return units


def _table_units(markdown: str) -> list[Unit]:
    rows = [line.strip() for line in markdown.splitlines() if line.strip()]
    if len(rows) < 2 or not _TABLE_SEPARATOR.match(rows[1]):
        return [Unit("row", r.strip("| "), cells=_cells(r)) for r in rows]
    header = _cells(rows[0])
    return [Unit("row", r.strip("| "), cells=_cells(r), header=header) for r in rows[2:]]


def _cells(row: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in row.strip().strip("|").split("|"))
