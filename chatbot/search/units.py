"""Answer units: the sentences, list items and table rows of every section, embedded at index time.

A reply quotes units, not whole sections, so they are ranked on their own: against what a
question asks, and against what a person describes ("a dull ache below the ankle bone, worse
on stairs" is close to the items of one condition's symptoms list). Their vectors are saved
with the index (`units.<hash>.npy`) and, like the chunks', re-embedded only when their text
changes. Which unit is which is not stored: it follows from the chunk text (markdown.py).

    units = UnitIndex.of(chunks, vectors)
    best = units.closest(question_vectors, positions)   # [(score, UnitRef)]
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.markdown import Unit, parse_blocks


@dataclass(frozen=True)
class UnitRef:
    chunk: int  # the chunk's position in the index
    unit: Unit


def units_of(chunks: list[Chunk]) -> list[UnitRef]:
    """Every quotable unit, chunk by chunk, in order."""
    return [UnitRef(i, u) for i, c in enumerate(chunks) for b in parse_blocks(c.text) for u in b.units()]


def unit_text(ref: UnitRef) -> str:
    """What a unit is embedded as: a nested item with the item it belongs to."""
    unit = ref.unit
    return f"{unit.parent}: {unit.text}" if unit.parent else unit.text


def to_bytes(vectors: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, vectors.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


class UnitIndex:
    def __init__(self, refs: list[UnitRef], vectors: np.ndarray) -> None:
        if len(refs) != len(vectors):
            raise ValueError(f"{len(vectors)} unit vectors for {len(refs)} units")
        self.refs = refs
        self.vectors = vectors
        self._of_chunk: dict[int, list[int]] = {}
        for row, ref in enumerate(refs):
            self._of_chunk.setdefault(ref.chunk, []).append(row)

    @classmethod
    def of(cls, chunks: list[Chunk], vectors: np.ndarray | None) -> UnitIndex | None:
        refs = units_of(chunks)
        if vectors is None or len(vectors) != len(refs):
            return None  # an index built before units were embedded: the bot works without them
        return cls(refs, vectors)

    def rows(self, chunk_positions: list[int]) -> list[int]:
        return [row for p in chunk_positions for row in self._of_chunk.get(p, [])]

    def closest(self, queries: np.ndarray, chunk_positions: list[int]) -> list[tuple[float, UnitRef]]:
        """Units of these chunks by their best similarity to any of the query vectors, best first."""
        rows = self.rows(chunk_positions)
        if not rows or len(queries) == 0:
            return []
        scores = (self.vectors[rows] @ queries.T).max(axis=1)
        order = np.argsort(-scores, kind="stable")
        return [(float(scores[i]), self.refs[rows[i]]) for i in order]
