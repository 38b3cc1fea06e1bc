"""Red flags: each article's own "see a doctor if" warnings, shown on every reply.

An article's red flags are the list items of its sections whose role is `see_doctor` or
`urgent` (or their sentences, where the section is prose), in the article's words, under the
section's own lead-in ("Seek professional evaluation if you have:", or a heading such as
"See a GP if") when it has one. A reply
shows the flags of the article(s) it cites, the ones closest to the reply's topic first; a
reply that cites nothing shows those of the only article, or the built-in generic flags when
there are several. An article without such a section gets the generic flags, never another
article's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.markdown import parse_blocks

FLAG_ROLES = ("urgent", "see_doctor")
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class ShownFlags:
    flags: list[str]
    heading: str
    source: list[str]  # article ids the flags came from; empty for the generic ones


@dataclass
class ArticleFlags:
    flags: list[str]
    heading: str
    vectors: np.ndarray | None


class RedFlags:
    def __init__(self, by_article: dict[str, ArticleFlags], generic: list[str], heading: str, shown: int) -> None:
        self.by_article = by_article
        self.generic = generic
        self.heading = heading  # the default heading, for flags whose section has no lead-in
        self.shown = shown

    @classmethod
    def from_chunks(
        cls, chunks: list[Chunk], embed: Embed | None, generic: list[str], heading: str, shown: int,
    ) -> RedFlags:
        by_article: dict[str, ArticleFlags] = {}
        for doc_id in dict.fromkeys(c.doc_id for c in chunks):
            flags, lead_in = _flags([c for c in chunks if c.doc_id == doc_id and c.role in FLAG_ROLES])
            if flags:
                vectors = embed(flags) if embed is not None else None
                by_article[doc_id] = ArticleFlags(flags, lead_in or heading, vectors)
        return cls(by_article, list(generic), heading, shown)

    def for_reply(self, cited_articles: Sequence[str], topic_vectors: np.ndarray | None) -> ShownFlags:
        """The `shown` flags for a reply citing `cited_articles` (in citation order)."""
        articles = list(dict.fromkeys(cited_articles))
        if not articles and len(self.by_article) == 1 and len(self._all_articles) <= 1:
            articles = list(self.by_article)
        own = [a for a in articles if a in self.by_article]
        if not own:
            return ShownFlags(self.generic[: self.shown], self.heading, [])
        first = self.by_article[own[0]]
        flags = [f for a in own for f in self.by_article[a].flags]
        vectors = [self.by_article[a].vectors for a in own]
        if topic_vectors is None or len(topic_vectors) == 0 or any(v is None for v in vectors):
            ranked = flags
        else:
            relevance = (np.vstack(vectors) @ topic_vectors.T).max(axis=1)
            ranked = [flags[i] for i in sorted(range(len(flags)), key=lambda i: (-round(float(relevance[i]), 6), i))]
        heading = first.heading if len(own) == 1 else self.heading
        return ShownFlags(list(dict.fromkeys(ranked))[: self.shown], heading, own)

    @property
    def _all_articles(self) -> set[str]:
        return set(self.by_article)


def _flags(chunks: list[Chunk]) -> tuple[list[str], str]:
    """List items (else sentences) of the sections, and the first one's lead-in line, if any:
    "Seek professional evaluation if you have:", or a heading that reads as one ("See a GP if")."""
    items, sentences, lead_in = [], [], ""
    if chunks and re.search(r"\b(if|when)$", chunks[0].title.strip(), re.I):
        lead_in = f"{chunks[0].title.strip()}:"
    for chunk in chunks:
        for block in parse_blocks(chunk.text):
            units = block.units()
            if block.kind == "list":
                items += [u.text for u in units if not u.parent]
            elif block.kind == "paragraph":
                for unit in units:
                    if unit.text.endswith(":"):
                        lead_in = unit.text if not items and not sentences else lead_in
                    else:
                        sentences.append(unit.text)
    return (items or sentences), lead_in
