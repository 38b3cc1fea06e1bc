"""Stage 3: embeddings. Turns text into unit vectors.

Everything else talks to the `Embedder` protocol, so tests that are not about the model
can pass a deterministic fake. Two real embedders load the same model folder (model_folder.py):

- `NumpyBertEmbedder` (numpy_bert.py) runs the BERT forward pass in NumPy, for the default
  model, and starts in a fraction of a second because it does not import torch.
- `SentenceTransformerEmbedder` uses sentence-transformers itself, for any other model.

`load_embedder` picks one. Weights load lazily, on the first `embed`; nothing is downloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from chatbot.config import go_offline
from chatbot.errors import ChatbotError, ModelNotFoundError
from chatbot.search.model_folder import ModelFolder, default_model_path
from chatbot.search.numpy_bert import NumpyBertEmbedder


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 unit vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int: ...


def load_embedder(model_path: Path | None = None, backend: str = "auto") -> Embedder:
    """The embedder for `model_path` (default: the bundled all-MiniLM-L6-v2).

    backend: "auto" (NumPy when the model allows it), "numpy" or "sentence-transformers".
    """
    path = Path(model_path) if model_path else default_model_path()
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"No embedding model at {path} (config.json missing). Check CHATBOT_MODEL_PATH.")
    if backend not in ("auto", "numpy", "sentence-transformers"):
        raise ChatbotError(
            f"Unknown embedder {backend!r} (CHATBOT_EMBEDDER): use auto, numpy or sentence-transformers."
        )
    if backend == "numpy" or (backend == "auto" and NumpyBertEmbedder.supports(path)):
        return NumpyBertEmbedder(path)
    return SentenceTransformerEmbedder(path)


class SentenceTransformerEmbedder(ModelFolder):
    """Any sentence-transformers model folder; imports torch on first use."""

    backend = "sentence-transformers"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._model = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            if self._model is None:
                go_offline()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        vectors = self._model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
