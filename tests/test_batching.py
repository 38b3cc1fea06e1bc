"""Questions asked at the same time are embedded in one batch, each caller getting its own vector."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from chatbot.search.batching import BatchingEmbedder
from tests.fakes import HashingEmbedder


class SlowRecordingEmbedder(HashingEmbedder):
    """Holds its first call until released, so that the questions behind it queue up."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def embed(self, texts):
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.release.wait(10)
        if any("explode" in t for t in texts):
            raise RuntimeError("model failed")
        return super().embed(texts)


def test_questions_waiting_together_go_in_one_batch_and_each_gets_its_own_vector():
    inner = SlowRecordingEmbedder()
    batching = BatchingEmbedder(inner, max_batch=16)
    questions = [f"question number {word}" for word in "one two three four five six seven eight nine".split()]
    with ThreadPoolExecutor(len(questions)) as pool:
        first = pool.submit(batching.embed, [questions[0]])
        while not inner.batches:  # the worker is busy with the first question...
            threading.Event().wait(0.001)
        rest = [pool.submit(batching.embed, [q]) for q in questions[1:]]
        while batching._waiting.qsize() < len(questions) - 1:  # ...while the others queue up
            threading.Event().wait(0.001)
        inner.release.set()
        vectors = [first.result(5)] + [f.result(5) for f in rest]
    assert [len(b) for b in inner.batches] == [1, 8]
    for question, vector in zip(questions, vectors, strict=True):
        assert vector.shape == (1, inner.dim)
        np.testing.assert_array_equal(vector, HashingEmbedder().embed([question]))


def test_a_failed_batch_fails_its_callers_and_the_worker_goes_on():
    inner = SlowRecordingEmbedder()
    inner.release.set()
    batching = BatchingEmbedder(inner)
    with pytest.raises(RuntimeError, match="model failed"):
        batching.embed(["explode"])
    assert batching.embed(["still here"]).shape == (1, inner.dim)


def test_it_looks_like_the_embedder_it_wraps():
    inner = HashingEmbedder()
    batching = BatchingEmbedder(inner)
    assert (batching.model_id, batching.dim, batching.max_tokens) == (inner.model_id, inner.dim, inner.max_tokens)
    many = batching.embed(["a b", "c d"])  # documents: straight through, one call
    np.testing.assert_array_equal(many, inner.embed(["a b", "c d"]))


@pytest.mark.model
def test_a_batch_gives_the_same_vectors_as_one_at_a_time(embedder):
    """Padding in a batch must not change any question's vector."""
    questions = ["PTTD treatment", "burning and pins and needles in the sole of my foot at night", "hi"]
    together = embedder.embed(questions)
    for row, question in enumerate(questions):
        np.testing.assert_allclose(together[row], embedder.embed([question])[0], atol=1e-5)
