"""Questions that arrive together are embedded together.

The encoder's weights (about 90 MB) do not fit in the CPU cache, so embedding one short
question is bound by memory bandwidth, not arithmetic: two at once read the weights twice and
slow each other down. `BatchingEmbedder` sends every single-text `embed()` call to one worker
thread, which takes whatever questions are waiting and embeds them in one call, reading the
weights once. A lone question waits for nobody; under load, batches form on their own.
bench/load_test.py measures what it is worth.

    embedder = BatchingEmbedder(load_embedder())   # same interface as the embedder it wraps
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

from chatbot.search.embeddings import Embedder


class BatchingEmbedder:
    def __init__(self, embedder: Embedder, max_batch: int = 16) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._waiting: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # model_id, dim, max_tokens, count_tokens, known_words...
        return getattr(self.embedder, name)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:  # documents at index time come as one big batch already
            return self.embedder.embed(texts)
        self._ensure_worker()
        done: Future = Future()
        self._waiting.put((texts[0], done))
        return done.result()

    def _ensure_worker(self) -> None:
        if self._worker is None:
            with self._start_lock:
                if self._worker is None:
                    self._worker = threading.Thread(target=self._work, name="query-embedder", daemon=True)
                    self._worker.start()

    def _work(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self.embedder.embed([text for text, _ in batch])
            except Exception as exc:  # every waiting caller gets the error, the worker lives on
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), vector in zip(batch, vectors, strict=True):
                done.set_result(vector[None, :])
