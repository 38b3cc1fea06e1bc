"""Shared fixtures. The network is blocked for every test (pytest-socket, see pyproject):
only 127.0.0.1 may be reached, for tests that start a real server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chatbot.config import go_offline

go_offline()

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SOURCE = Path(__file__).parent / "data" / "medial-malleolus-pain.source.txt"


@pytest.fixture(scope="session")
def documents():
    from chatbot.knowledge.corpus import load_corpus

    return load_corpus(CORPUS)


@pytest.fixture(scope="session")
def fake_embedder():
    from tests.fakes import HashingEmbedder

    return HashingEmbedder()


@pytest.fixture(scope="session")
def fake_index(documents, fake_embedder):
    from chatbot.search.indexing import build_index

    return build_index(documents, fake_embedder)


@pytest.fixture(scope="session")
def embedder():
    """The real default model (all-MiniLM-L6-v2, bundled), on the NumPy backend."""
    from chatbot.search.embeddings import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def index(documents, embedder):
    from chatbot.search.indexing import build_index

    return build_index(documents, embedder)


@pytest.fixture(scope="session")
def retriever(index, embedder):
    from chatbot.search.retrieval import HybridRetriever

    return HybridRetriever(index, embedder)


# The triage detector for the real model is cached where the app keeps it (`make index` builds
# it): the suite reuses it, and builds it there once when it is missing or stale.
TRIAGE_DIR = ROOT / "index" / "triage"


@pytest.fixture(scope="session")
def bot(index, embedder):
    from chatbot.bot import Chatbot

    return Chatbot(index, embedder, triage_dir=TRIAGE_DIR)


@pytest.fixture(scope="session")
def fake_bot(fake_index, fake_embedder):
    from chatbot.bot import Chatbot

    return Chatbot(fake_index, fake_embedder)


@pytest.fixture
def corpus_copy(tmp_path):
    """A writable copy of the corpus folder."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(autouse=True)
def _no_chatbot_env(monkeypatch):
    """Tests see default settings unless they set CHATBOT_* themselves."""
    for key in list(os.environ):
        if key.startswith("CHATBOT_"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the whole run (tests/postgres.py), on 127.0.0.1."""
    from tests.postgres import PostgresServer

    server = PostgresServer.start()
    yield server
    server.stop()
