"""Curated answers: sections an admin pinned for a group of questions.

    pins = StoredPins(store, model_id)       # what `Chatbot.pins` asks in its retrieve stage
    pins.match(question_vector)              # -> ["article/section", ...] or None

A later question whose vector is within a pin's threshold of the pin's centroid (cosine
similarity) is answered from the pinned sections: still extractive through the same composer,
cited, with red flags and disclaimer, and only after triage (the bot's input rails run first).
The nearest pin wins. Pins made with another embedding model are ignored (their centroids are
in another space). Pins are re-read from the database every few seconds, so a pin made through
one replica reaches the others without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)
DEFAULT_THRESHOLD = 0.75  # cosine similarity to the group's centroid
REFRESH_SECONDS = 5.0


class PinnedSections(Protocol):
    def match(self, vector: np.ndarray) -> list[str] | None:
        """The chunk ids pinned for questions like this one, best pin first; None if none is close."""
        ...


class PinSource(Protocol):
    def pins(self) -> Sequence: ...  # chatbot.store.records.Pin rows


class StoredPins:
    def __init__(self, source: PinSource, model_id: str, refresh_seconds: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.model_id = source, model_id
        self.refresh_seconds, self.clock = refresh_seconds, clock
        self._lock = threading.Lock()
        self._loaded_at = -float("inf")
        self._centroids = np.zeros((0, 0), np.float32)
        self._thresholds = np.zeros(0, np.float32)
        self._chunk_ids: list[list[str]] = []
        self._pin_ids: list[int] = []

    def match(self, vector: np.ndarray) -> list[str] | None:
        pin = self.nearest(vector)
        return None if pin is None else self._chunk_ids[pin]

    def nearest(self, vector: np.ndarray) -> int | None:
        """The position of the closest pin within its threshold, or None."""
        self._refresh()
        if not self._pin_ids or self._centroids.shape[1] != len(vector):
            return None
        similarity = self._centroids @ np.asarray(vector, np.float32)
        best = int(np.argmax(similarity - self._thresholds))
        return best if similarity[best] >= self._thresholds[best] else None

    def refresh(self) -> None:
        """Read the pins again now (after an admin changed them through this replica)."""
        self._loaded_at = -float("inf")
        self._refresh()

    def _refresh(self) -> None:
        if self.clock() - self._loaded_at < self.refresh_seconds:
            return
        with self._lock:
            if self.clock() - self._loaded_at < self.refresh_seconds:
                return
            try:
                pins = [p for p in self.source.pins() if p.model_id == self.model_id and p.chunk_ids]
            except Exception:  # the database is away: answer as if unpinned, try again later
                log.warning("Could not read the pinned answers; answering without them for now", exc_info=True)
                self._loaded_at = self.clock()
                return
            self._centroids = (np.array([p.centroid for p in pins], np.float32) if pins
                               else np.zeros((0, 0), np.float32))
            self._thresholds = np.array([p.threshold for p in pins], np.float32)
            self._chunk_ids = [list(p.chunk_ids) for p in pins]
            self._pin_ids = [p.id for p in pins]
            self._loaded_at = self.clock()
