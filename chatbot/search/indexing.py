"""Building the index from the corpus, and opening the saved one for the app.

    index = open_index(index_dir, corpus_dir, embedder, rebuild=True)

`open_index` loads the saved index (index.py), checks it still matches the corpus, model and
settings (`check_current`), and with `rebuild` builds and saves a new one (`build_index`) when
it is missing, damaged or stale. A rebuild embeds only the chunks whose text changed: the
others keep their vectors from the previous index.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import platform
import time
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from chatbot.errors import IndexProblem, IndexStaleError
from chatbot.knowledge.chunks import CHUNKER_VERSION, chunk_documents
from chatbot.knowledge.corpus import Document, corpus_fingerprint, load_corpus
from chatbot.knowledge.glossary import Glossary
from chatbot.knowledge.roles import RoleAssigner
from chatbot.knowledge.topics import find_topics
from chatbot.search.embeddings import Embedder
from chatbot.search.index import SearchIndex, load_index, save_index
from chatbot.search.manifest import FORMAT_VERSION
from chatbot.search.units import UnitIndex, unit_text, units_of

KNOWLEDGE_RULES = ("roles.yaml", "topics.yaml")  # rules that shape the index: changing one rebuilds it
log = logging.getLogger(__name__)


def open_index(
    index_dir: Path, corpus_dir: Path, embedder: Embedder, max_tokens: int = 256,
    rebuild: bool = False, progress: bool = False,
) -> SearchIndex:
    """Load the index and check it against the corpus and model.

    With `rebuild=True` a missing, damaged or stale index is rebuilt (and saved) instead of
    raising; the reason is logged.
    """
    documents = load_corpus(corpus_dir)
    previous = None
    try:
        index = previous = load_index(index_dir)
        check_current(index, documents, embedder, max_tokens)
        return index
    except IndexProblem as problem:
        if not rebuild:
            raise
        log.warning("Building the search index: %s", str(problem).split(" Run `")[0])
    index = build_index(documents, embedder, max_tokens, progress=progress, previous=previous)
    save_index(index, index_dir)
    return index


def build_index(
    documents: list[Document], embedder: Embedder, max_tokens: int = 256, progress: bool = False,
    previous: SearchIndex | None = None,
) -> SearchIndex:
    """Chunk, embed and describe the corpus. Chunks whose text is unchanged since `previous`
    (built with the same model) keep their vectors instead of being embedded again."""
    started = time.perf_counter()
    chunks = chunk_documents(documents, min(max_tokens, embedder.max_tokens), embedder.count_tokens)
    glossary = Glossary.from_documents(documents)
    texts = [glossary.expand(chunk.search_text()) for chunk in chunks]
    vectors, reused = _embed(texts, embedder, _reusable(previous, embedder), progress)
    vector_index = faiss.IndexFlatIP(embedder.dim)
    vector_index.add(vectors)
    known_words = getattr(embedder, "known_words", None)
    topics = find_topics(documents, chunks, glossary, known_words() if callable(known_words) else ())
    roles = RoleAssigner().assign(chunks, documents, vectors, embedder.embed, {(t.doc_id, t.path) for t in topics})
    chunks = [replace(c, role=r.role, role_source=r.source) for c, r in zip(chunks, roles, strict=True)]
    refs = units_of(chunks)
    unit_vectors, units_reused = _embed([unit_text(r) for r in refs], embedder, _reusable_units(previous, embedder),
                                        False)
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": {
            "id": embedder.model_id,
            "dim": embedder.dim,
            "backend": getattr(embedder, "backend", type(embedder).__name__),
            "fingerprint": _model_fingerprint(embedder),
        },
        "corpus": {
            "fingerprint": corpus_fingerprint(documents),
            "documents": [{"id": d.id, "title": d.title, "file": d.path.name, "sha256": d.sha256, "covers": d.covers,
                           "questions": list(d.questions), "audience": d.audience} for d in documents],
        },
        "chunking": {"max_tokens": max_tokens, "chunker_version": CHUNKER_VERSION, "chunks": len(chunks)},
        "knowledge": {
            "rules": knowledge_fingerprint(), "topics": [t.to_dict() for t in topics],
            "lay_terms": [{"when": w, "add": a, "doc": d.id} for d in documents for w, a in d.lay_terms],
        },
        "glossary": glossary.long_forms,
        "versions": _versions(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 3),
        "embedded": {"chunks": len(chunks) - reused, "reused": reused, "units": len(refs) - units_reused,
                     "units_reused": units_reused},
    }
    return SearchIndex(chunks, vector_index, glossary, manifest, topics, UnitIndex(refs, unit_vectors))


def check_current(index: SearchIndex, documents: list[Document], embedder: Embedder, max_tokens: int) -> None:
    """Raise `IndexStaleError` if the index was built from another corpus, model or chunking."""
    manifest = index.manifest
    if manifest["model"]["id"] != embedder.model_id or manifest["model"]["dim"] != embedder.dim:
        raise IndexStaleError(
            f"The index was built with model {manifest['model']['id']} ({manifest['model']['dim']} dims); "
            f"the configured model is {embedder.model_id} ({embedder.dim} dims)."
        )
    if manifest["model"].get("fingerprint") != _model_fingerprint(embedder):
        raise IndexStaleError("The index was built with other weights for the embedding model.")
    if manifest["corpus"]["fingerprint"] != corpus_fingerprint(documents):
        built = {d["file"] for d in manifest["corpus"]["documents"]}
        now = {d.path.name for d in documents}
        changed = sorted(now ^ built) or sorted(
            d.path.name for d in documents
            if d.sha256 not in {b["sha256"] for b in manifest["corpus"]["documents"]}
        )
        raise IndexStaleError(f"The corpus changed since the index was built ({', '.join(changed)}).")
    chunking = manifest["chunking"]
    if chunking["max_tokens"] != max_tokens or chunking["chunker_version"] != CHUNKER_VERSION:
        raise IndexStaleError("The chunking settings changed since the index was built.")
    if manifest.get("knowledge", {}).get("rules") != knowledge_fingerprint():
        raise IndexStaleError("The rules for section roles or topics changed since the index was built.")


def knowledge_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in KNOWLEDGE_RULES:
        digest.update(resources.files("chatbot.rules").joinpath(name).read_bytes())
    return digest.hexdigest()[:16]


def _reusable(previous: SearchIndex | None, embedder: Embedder) -> dict[str, np.ndarray]:
    """Vectors of the previous index by the digest of the text they embed (same model only)."""
    if previous is None or previous.manifest.get("model", {}).get("fingerprint") != _model_fingerprint(embedder):
        return {}
    stored = previous.vectors.reconstruct_n(0, previous.vectors.ntotal)
    return {_digest(text): stored[i] for i, text in enumerate(previous.search_texts())}


def _reusable_units(previous: SearchIndex | None, embedder: Embedder) -> dict[str, np.ndarray]:
    if previous is None or previous.units is None or previous.manifest.get("model", {}).get(
            "fingerprint") != _model_fingerprint(embedder):
        return {}
    return {_digest(unit_text(ref)): previous.units.vectors[i] for i, ref in enumerate(previous.units.refs)}


def _embed(
    texts: list[str], embedder: Embedder, reusable: dict[str, np.ndarray], progress: bool, batch: int = 16,
) -> tuple[np.ndarray, int]:
    vectors = np.zeros((len(texts), embedder.dim), np.float32)
    todo = []
    for i, text in enumerate(texts):
        known = reusable.get(_digest(text))
        if known is not None:
            vectors[i] = known
        else:
            todo.append(i)
    with tqdm(total=len(todo), desc="Embedding chunks", unit="chunk", disable=not progress) as bar:
        for start in range(0, len(todo), batch):
            rows = todo[start:start + batch]
            vectors[rows] = embedder.embed([texts[i] for i in rows])
            bar.update(len(rows))
    return vectors, len(texts) - len(todo)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _model_fingerprint(embedder: Embedder) -> str:
    fingerprint = getattr(embedder, "fingerprint", None)
    return fingerprint() if callable(fingerprint) else embedder.model_id


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("chatbot", "numpy", "faiss-cpu", "bm25s", "tokenizers", "sentence-transformers", "langchain-core"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions
