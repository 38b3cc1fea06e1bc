"""Which condition a story's symptoms are closest to, when the story names none.

"A dull ache below the ankle bone, worse on stairs, and my arch seems flatter" uses almost the
words of one condition's symptoms list. Each clause of the message is set beside every
condition's symptom items (the units of its sections whose role is `symptoms`, embedded at
index time); an item that many conditions share counts for less. A condition is returned only
when it stands clearly ahead (rules/reading.yaml `symptom_match`), and the reply then says that
the article links such symptoms to it: never that the person has it.

    matcher = SymptomMatcher.of(index, topics, embedder)
    matcher.closest("sharp heel pain ... worst first thing in the morning")  -> "Plantar Fasciitis"
"""

from __future__ import annotations

import re

import numpy as np

from chatbot.answer.reading import ReadingRulesFile
from chatbot.knowledge.topics import Topics
from chatbot.rules import load
from chatbot.search.embeddings import Embedder
from chatbot.search.index import SearchIndex

_CLAUSE = re.compile(r"[.!?;,]+|\bbut\b|\band\b", re.I)


class SymptomMatcher:
    def __init__(self, names: list[str], vectors: np.ndarray, embedder: Embedder) -> None:
        self.rules = load("reading.yaml", ReadingRulesFile).symptom_match
        self.names = names  # per symptom item, its condition
        self.vectors = vectors
        self.embedder = embedder
        self._columns = {n: [i for i, m in enumerate(names) if m == n] for n in dict.fromkeys(names)}
        similar = vectors @ vectors.T > self.rules["shared"]
        self._weights = np.array([1.0 / len({names[j] for j in np.flatnonzero(row)}) for row in similar])

    @classmethod
    def of(cls, index: SearchIndex, topics: Topics, embedder: Embedder) -> SymptomMatcher | None:
        if index.units is None:
            return None
        rows, names = [], []
        for row, ref in enumerate(index.units.refs):
            chunk = index.chunks[ref.chunk]
            holder = topics.holder(chunk)
            if chunk.role == "symptoms" and holder is not None:
                rows.append(row)
                names.append(holder.name)
        if len(set(names)) < 2:
            return None
        return cls(names, index.units.vectors[rows], embedder)

    def closest(self, text: str) -> str | None:
        clauses = [c.strip() for c in _CLAUSE.split(text) if c and len(c.split()) >= 2]
        if not clauses:
            return None
        fit = ((self.embedder.embed(clauses) @ self.vectors.T) - self.rules["floor"]).clip(0) * self._weights
        scores = sorted(((float(fit[:, cols].max(axis=1).sum()), name) for name, cols in self._columns.items()),
                        reverse=True)
        (best, name), (second, _) = scores[0], scores[1]
        return name if best >= self.rules["min_score"] and best - second >= self.rules["min_margin"] else None
