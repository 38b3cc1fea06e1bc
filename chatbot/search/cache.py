"""A cache of text embeddings shared by the stages of one reply.

Triage embeds the message (and its sentences) before anything else; retrieval then embeds the
question. `CachedEmbedder` keeps recent vectors so a text embedded once is not embedded again,
and embeds whatever is missing from a call in one batch. It has the `Embedder` interface.

    embedder = CachedEmbedder(load_embedder())
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from chatbot.search.embeddings import Embedder


class CachedEmbedder:
    def __init__(self, embedder: Embedder, size: int = 4096) -> None:
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:  # model_id, dim, max_tokens, count_tokens, fingerprint...
        return getattr(self.embedder, name)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.embedder.dim), np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._vectors.move_to_end(text)
                    out[i] = vector
            self.hits += len(texts) - sum(len(rows) for rows in missing.values())
            self.misses += len(missing)
        if missing:
            vectors = self.embedder.embed(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), vectors, strict=True):
                    out[rows] = vector
                    self._vectors[text] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return out
