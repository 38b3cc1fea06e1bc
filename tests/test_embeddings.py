"""Stage 3: the real model, loaded offline; the NumPy encoder equals sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

from chatbot.errors import ChatbotError, ModelNotFoundError
from chatbot.search.embeddings import SentenceTransformerEmbedder, load_embedder
from chatbot.search.model_folder import DEFAULT_MODEL_ID, default_model_path
from chatbot.search.numpy_bert import NumpyBertEmbedder

pytestmark = pytest.mark.model

QUESTIONS = [
    "burning and pins and needles in the sole of my foot at night",
    "PTTD treatment",
    "what is the medial malleolus?",
    "é ü 🦶 — and a very long question " * 40,  # truncated at the model's 256 tokens, like the reference
]


@pytest.fixture(scope="module")
def reference():
    return SentenceTransformerEmbedder(default_model_path())


def test_default_is_the_bundled_minilm_on_numpy(embedder):
    assert isinstance(embedder, NumpyBertEmbedder)
    assert embedder.model_id == DEFAULT_MODEL_ID
    assert embedder.dim == 384
    assert embedder.max_tokens == 256


def test_numpy_encoder_matches_sentence_transformers(embedder, reference, index):
    texts = QUESTIONS + index.search_texts()
    ours, theirs = embedder.embed(texts), reference.embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.99999
    assert np.abs(ours - theirs).max() < 1e-4


def test_vectors_are_unit_length_and_deterministic(embedder):
    first, second = embedder.embed(QUESTIONS), embedder.embed(QUESTIONS[::-1])[::-1]
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, second, atol=1e-6)  # batch order and padding do not matter


def test_similar_meaning_is_closer(embedder):
    q, near, far = embedder.embed(["tingling in the sole of my foot", "Numbness in the sole of the foot",
                                   "Wear supportive footwear"])
    assert q @ near > q @ far


def test_model_path_is_configurable_and_checked(tmp_path):
    with pytest.raises(ModelNotFoundError, match="CHATBOT_MODEL_PATH"):
        load_embedder(tmp_path)
    assert isinstance(load_embedder(default_model_path(), backend="sentence-transformers"), SentenceTransformerEmbedder)
    with pytest.raises(ChatbotError, match="CHATBOT_EMBEDDER"):
        load_embedder(default_model_path(), backend="gpu")


def test_token_counts_come_from_the_model_tokenizer(embedder):
    assert embedder.count_tokens("tarsal tunnel") < embedder.count_tokens("tarsal tunnel syndrome and more words")
    assert embedder.count_tokens("word " * 400) > 256  # counted without truncation, for the chunker
