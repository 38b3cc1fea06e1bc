"""Stage 2: chunks. Cuts each article along its heading tree.

One chunk is the text a section owns (the blocks before its first sub-heading), so a list
or table always stays with its heading. A lead-in that only introduces the sub-sections
("When you see a healthcare provider:") opens each of their chunks instead of standing alone.
A chunk over the token budget is split between blocks, then between list items, table rows
or sentences; every part keeps the heading path.

Chunk ids are built from the document id and the heading slugs (list numbers dropped), so
they stay the same when unrelated text changes:
`heel-pain/common-causes/heel-spur/symptoms`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from chatbot.knowledge.corpus import Document
from chatbot.knowledge.markdown import Block, parse_sections, plain

CHUNKER_VERSION = 2
PATH_SEPARATOR = " › "
TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    doc_title: str
    heading_path: tuple[str, ...]
    text: str  # the section's own Markdown, exactly as in the article
    part: int = 1
    role: str = "other"  # what kind of answer it gives (roles.py); set at index time
    role_source: str = ""  # where the role came from: front_matter, heading, structure, similarity

    @property
    def section(self) -> str:
        """The heading path as people read it; the article title for its opening text."""
        return PATH_SEPARATOR.join(self.heading_path) or self.doc_title

    @property
    def title(self) -> str:
        return self.heading_path[-1] if self.heading_path else self.doc_title

    def search_text(self) -> str:
        """What gets embedded and keyword-indexed: where the text sits, then the text."""
        return f"{self.section}\n{plain(self.text)}"

    def to_dict(self) -> dict:
        return {
            "id": self.id, "doc_id": self.doc_id, "doc_title": self.doc_title,
            "heading_path": list(self.heading_path), "text": self.text, "part": self.part,
            "role": self.role, "role_source": self.role_source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(
            id=data["id"], doc_id=data["doc_id"], doc_title=data["doc_title"],
            heading_path=tuple(data["heading_path"]), text=data["text"], part=int(data.get("part", 1)),
            role=str(data.get("role", "other")), role_source=str(data.get("role_source", "")),
        )


def section_matches(chunk: Chunk, ref: str) -> bool:
    """Whether `ref` names this chunk: its id, or the end of its heading path.

    "Heel Spur › Symptoms" matches the chunk under
    "Common Causes › 4. Heel Spur › Symptoms".
    Case, list numbers and the kind of apostrophe do not matter; " > " works as a separator too.
    """
    if ref in (chunk.id, chunk.id.split("~")[0]):
        return True
    wanted = _path_key(ref)
    have = _path_key(chunk.section)
    return bool(wanted) and have[-len(wanted):] == wanted


def _path_key(path: str) -> list[str]:
    parts = re.split(r"\s*(?:›|>)\s*", path)
    return [re.sub(r"^\d+[.)]\s*", "", p).lower().replace("’", "'").strip() for p in parts if p.strip()]


def word_count_tokens(text: str) -> int:
    """A rough token count (about 1.3 tokens a word) for when no tokenizer is at hand."""
    return int(len(text.split()) * 1.3) + 1


def chunk_documents(
    documents: list[Document], max_tokens: int = 256, count_tokens: TokenCounter = word_count_tokens
) -> list[Chunk]:
    return [chunk for doc in documents for chunk in chunk_document(doc, max_tokens, count_tokens)]


def chunk_document(
    doc: Document, max_tokens: int = 256, count_tokens: TokenCounter = word_count_tokens
) -> list[Chunk]:
    chunks: list[Chunk] = []
    used_ids: set[str] = set()
    lead_ins: dict[tuple[str, ...], list[Block]] = {}
    for section in parse_sections(doc.body).walk():
        blocks = [b for b in section.blocks if b.kind != "rule"]
        if section.children and _is_lead_in(blocks):
            # "Treatment depends on the specific cause:" means nothing alone; it opens each sub-section.
            lead_ins[section.path] = blocks
            continue
        blocks = lead_ins.get(section.path[:-1], []) + blocks if blocks else []
        if not blocks:
            continue
        header = PATH_SEPARATOR.join(section.path) or doc.title
        budget = max(max_tokens - count_tokens(header) - 2, 16)
        base_id = _unique(f"{doc.id}/{'/'.join(_slug(t) for t in section.path) or 'introduction'}", used_ids)
        for part, text in enumerate(_pack(blocks, budget, count_tokens), start=1):
            chunk_id = base_id if part == 1 else f"{base_id}~{part}"
            chunks.append(Chunk(chunk_id, doc.id, doc.title, section.path, text, part))
    return chunks


def _is_lead_in(blocks: list[Block]) -> bool:
    """A single short paragraph ending in a colon, introducing the sub-sections below it."""
    return len(blocks) == 1 and blocks[0].kind == "paragraph" and blocks[0].markdown.rstrip().endswith(":")


def _pack(blocks: list[Block], budget: int, count_tokens: TokenCounter) -> list[str]:
    """Greedily fill parts up to `budget` tokens, cutting big blocks into their units."""
    pieces: list[str] = []
    for block in blocks:
        if count_tokens(plain(block.markdown)) <= budget:
            pieces.append(block.markdown)
        else:
            pieces.extend(_split_block(block, budget, count_tokens))

    parts: list[str] = []
    current: list[str] = []
    for piece in pieces:
        candidate = "\n\n".join([*current, piece])
        if current and count_tokens(plain(candidate)) > budget:
            parts.append("\n\n".join(current))
            current = [piece]
        else:
            current.append(piece)
    if current:
        parts.append("\n\n".join(current))
    return parts


def _split_block(block: Block, budget: int, count_tokens: TokenCounter) -> list[str]:
    """Split one block into pieces under the budget; a table repeats its header in each piece."""
    if block.kind == "table":
        lines = block.markdown.splitlines()
        head, rows = lines[:2], lines[2:]
        return _group(rows, budget, count_tokens, prefix=head)
    if block.kind == "list":
        # Keep nested items with the item they belong to.
        items: list[str] = []
        for line in block.markdown.splitlines():
            if items and line.startswith((" ", "\t")):
                items[-1] += "\n" + line
            else:
                items.append(line)
        return _group(items, budget, count_tokens)
    sentences = [u.text for u in block.units()]
    pieces = _group(sentences, budget, count_tokens, joiner=" ")
    return [p for s in pieces for p in (_hard_wrap(s, budget, count_tokens) if count_tokens(s) > budget else [s])]


def _group(
    lines: list[str], budget: int, count_tokens: TokenCounter, prefix: list[str] | None = None, joiner: str = "\n"
) -> list[str]:
    prefix = prefix or []
    groups: list[list[str]] = [[]]
    for line in lines:
        if groups[-1] and count_tokens(plain(joiner.join([*prefix, *groups[-1], line]))) > budget:
            groups.append([])
        groups[-1].append(line)
    return [joiner.join([*prefix, *group]) for group in groups if group]


def _hard_wrap(sentence: str, budget: int, count_tokens: TokenCounter) -> list[str]:
    """A single sentence longer than the budget (rare): cut between words."""
    words, pieces, current = sentence.split(" "), [], []
    for word in words:
        if current and count_tokens(" ".join([*current, word])) > budget:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    pieces.append(" ".join(current))
    return pieces


def _slug(title: str) -> str:
    title = re.sub(r"^\d+[.)]\s*", "", title)  # "4. Heel Spur" -> stable if renumbered
    return re.sub(r"[^a-z0-9]+", "-", title.lower().replace("’", "").replace("'", "")).strip("-") or "section"


def _unique(chunk_id: str, used: set[str]) -> str:
    candidate, n = chunk_id, 2
    while candidate in used:
        candidate, n = f"{chunk_id}-{n}", n + 1
    used.add(candidate)
    return candidate
