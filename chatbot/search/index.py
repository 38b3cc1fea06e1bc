"""Stage 4: the index. Builds, saves and loads the searchable form of the corpus.

`index/` holds four files:

- `chunks.<hash>.jsonl`: the chunks with their metadata, each with its section role;
- `vectors.<hash>.faiss`: a FAISS inner-product index of their unit vectors;
- `units.<hash>.npy`: the vectors of every sentence, list item and table row (units.py);
- `manifest.json`: model, corpus fingerprint, chunking settings, the topics found in the
  articles, the fingerprint of the knowledge rules, library versions, build time, and the
  names and checksums of the two data files.

Data files are written under new names first and the manifest last, by an atomic rename, so
a crash mid-build leaves the previous index whole and usable, and a running server that
watches the manifest (live.py) switches to the new index in one step. A rebuild embeds only
the chunks whose text changed: the others keep their vectors from the previous index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from chatbot.errors import ChatbotError, IndexCorruptError, IndexMissingError, IndexProblem, IndexStaleError
from chatbot.knowledge.chunks import CHUNKER_VERSION, Chunk, chunk_documents
from chatbot.knowledge.corpus import Document, corpus_fingerprint, load_corpus
from chatbot.knowledge.glossary import Glossary
from chatbot.knowledge.roles import RoleAssigner
from chatbot.knowledge.topics import Topic, find_topics
from chatbot.search.embeddings import Embedder
from chatbot.search.units import UnitIndex, unit_text, units_of
from chatbot.search.units import from_bytes as units_from_bytes
from chatbot.search.units import to_bytes as units_to_bytes

FORMAT_VERSION = 2
KNOWLEDGE_RULES = ("roles.yaml", "topics.yaml")  # rules that shape the index: changing one rebuilds it
MANIFEST = "manifest.json"
log = logging.getLogger(__name__)


@dataclass
class SearchIndex:
    chunks: list[Chunk]
    vectors: faiss.Index
    glossary: Glossary
    manifest: dict
    topics: list[Topic] = field(default_factory=list)
    units: UnitIndex | None = None  # every section's sentences, items and rows, embedded

    def search_texts(self) -> list[str]:
        """The text each chunk is found by: heading path, body, and abbreviation long forms."""
        return [self.glossary.expand(chunk.search_text()) for chunk in self.chunks]

    def summary(self) -> dict:
        return {
            "model": self.manifest["model"]["id"],
            "dim": self.manifest["model"]["dim"],
            "chunks": len(self.chunks),
            "documents": len(self.manifest["corpus"]["documents"]),
            "corpus_fingerprint": self.manifest["corpus"]["fingerprint"],
            "built_at": self.manifest["built_at"],
        }


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


def save_index(index: SearchIndex, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    chunks_bytes = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in index.chunks).encode()
    vectors_bytes = faiss.serialize_index(index.vectors).tobytes()
    files = {}
    saved = [("chunks", chunks_bytes, "jsonl"), ("vectors", vectors_bytes, "faiss")]
    if index.units is not None:
        saved.append(("units", units_to_bytes(index.units.vectors), "npy"))
    for kind, data, suffix in saved:
        digest = hashlib.sha256(data).hexdigest()
        name = f"{kind}.{digest[:12]}.{suffix}"
        _atomic_write(folder / name, data)
        files[kind] = {"name": name, "sha256": digest}
    manifest = {**index.manifest, "files": files}
    _atomic_write(folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
    index.manifest = manifest
    keep = {MANIFEST, *(f["name"] for f in files.values())}
    for old in folder.glob("*.*"):
        if old.name not in keep and old.name.startswith(("chunks.", "vectors.", "units.")):
            old.unlink(missing_ok=True)


def load_index(folder: Path) -> SearchIndex:
    """Load a saved index; raise an `IndexProblem` naming the fix if it is missing or damaged.

    The manifest is checked for every field this version reads, each of the right type, and
    for file names that stay inside `folder`, before any file it names is opened.
    """
    manifest_path = folder / MANIFEST
    if folder.exists() and not folder.is_dir():
        # Not rebuilt: that would mean deleting a file someone put there.
        raise ChatbotError(f"The index folder {folder} is a file, not a folder. Point CHATBOT_INDEX_DIR "
                           "at a folder (it is created if missing).")
    if manifest_path.exists() and not manifest_path.is_file():
        raise ChatbotError(f"{manifest_path} is not a file. Remove it, then run `chatbot index build`.")
    if not manifest_path.is_file():
        raise IndexMissingError(f"No search index in {folder}.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        paths = _check_manifest(manifest, folder)
        raw = {k: _read_checked(paths[k], manifest["files"][k]["sha256"]) for k in ("chunks", "vectors")}
        chunks = [_chunk(json.loads(line)) for line in raw["chunks"].decode().splitlines() if line]
        vectors = faiss.deserialize_index(np.frombuffer(raw["vectors"], dtype=np.uint8))
        glossary = Glossary(dict(manifest.get("glossary", {})))
        topics = [Topic.from_dict(t) for t in manifest.get("knowledge", {}).get("topics", [])]
        units = None
        if "units" in paths:
            units = UnitIndex.of(chunks, units_from_bytes(_read_checked(paths["units"], manifest["files"]["units"][
                "sha256"])))
            if units is None:
                raise IndexCorruptError(f"The index in {folder} has unit vectors that do not match its chunks.")
    except IndexProblem:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, RecursionError) as exc:
        raise IndexCorruptError(f"The index in {folder} is damaged ({exc.__class__.__name__}: {exc}).") from None
    if vectors.ntotal != len(chunks):
        raise IndexCorruptError(f"The index in {folder} has {vectors.ntotal} vectors for {len(chunks)} chunks.")
    if vectors.d != manifest["model"]["dim"]:
        raise IndexCorruptError(f"The index in {folder} has vectors of {vectors.d} dimensions; its manifest says "
                                f"{manifest['model']['dim']}.")
    return SearchIndex(chunks, vectors, glossary, manifest, topics, units)


def _check_manifest(manifest: object, folder: Path) -> dict[str, Path]:
    """Raise `IndexCorruptError` unless the manifest has what `load_index` and `check_current`
    read, of the right types (other fields are left alone); return the data files' paths."""
    def damaged(problem: str) -> IndexCorruptError:
        return IndexCorruptError(f"The index in {folder} is damaged ({MANIFEST}: {problem}).")

    def need(node: object, where: str, kind: type, name: str):
        """The field at dotted path `where` (its last part is the key in `node`), if of type `kind`."""
        key = where.rsplit(".", 1)[-1]
        value = node.get(key) if isinstance(node, dict) else None
        if isinstance(value, bool) or not isinstance(value, kind):
            shown = ("missing" if not isinstance(node, dict) or key not in node else
                     "null" if value is None else f"{type(value).__name__} {str(value)[:40]!r}")
            raise damaged(f"{where} must be {name}, not {shown}")
        return value

    def strings(value: object, where: str) -> None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise damaged(f"{where} must be a list of strings")

    def list_of(node: dict, where: str) -> list:
        """An optional list (absent: empty)."""
        value = node.get(where.rsplit(".", 1)[-1], [])
        if not isinstance(value, list):
            raise damaged(f"{where} must be a list, not {type(value).__name__}")
        return value

    if not isinstance(manifest, dict):
        raise damaged(f"must be a JSON object, not {type(manifest).__name__}")
    version = need(manifest, "format_version", int, "a number")
    if version != FORMAT_VERSION:
        raise IndexStaleError(f"The index in {folder} has format {version}, "
                              f"this version reads format {FORMAT_VERSION}.")
    model = need(manifest, "model", dict, "an object")
    need(model, "model.id", str, "a string")
    if need(model, "model.dim", int, "a whole number") <= 0:
        raise damaged(f"model.dim must be positive, not {model['dim']}")
    corpus = need(manifest, "corpus", dict, "an object")
    need(corpus, "corpus.fingerprint", str, "a string")
    for i, document in enumerate(need(corpus, "corpus.documents", list, "a list")):
        for key in ("id", "title", "file", "sha256"):
            need(document, f"corpus.documents[{i}].{key}", str, "a string")
        if "covers" in document:
            need(document, f"corpus.documents[{i}].covers", str, "a string")
        if "questions" in document:
            strings(document["questions"], f"corpus.documents[{i}].questions")
    knowledge = manifest.get("knowledge", {})
    if not isinstance(knowledge, dict):
        raise damaged(f"knowledge must be an object, not {type(knowledge).__name__}")
    for i, topic in enumerate(list_of(knowledge, "knowledge.topics")):
        need(topic, f"knowledge.topics[{i}].name", str, "a string")
        strings(topic.get("aliases"), f"knowledge.topics[{i}].aliases")
    for i, term in enumerate(list_of(knowledge, "knowledge.lay_terms")):
        for key in ("when", "add"):
            need(term, f"knowledge.lay_terms[{i}].{key}", str, "a string")
    chunking = need(manifest, "chunking", dict, "an object")
    for key in ("max_tokens", "chunker_version"):
        need(chunking, f"chunking.{key}", int, "a whole number")
    need(manifest, "built_at", str, "a string")
    glossary = manifest.get("glossary", {})
    if not isinstance(glossary, dict) or not all(isinstance(v, str) for v in glossary.values()):
        raise damaged("glossary must be an object of strings")
    files = need(manifest, "files", dict, "an object")
    paths: dict[str, Path] = {}
    for kind in ("chunks", "vectors"):
        entry = need(files, f"files.{kind}", dict, "an object")
        need(entry, f"files.{kind}.sha256", str, "a string")
        paths[kind] = _inside(folder, need(entry, f"files.{kind}.name", str, "a string"), damaged)
    if "units" in files:  # optional: indexes built before units were embedded have none
        entry = need(files, "files.units", dict, "an object")
        need(entry, "files.units.sha256", str, "a string")
        paths["units"] = _inside(folder, need(entry, "files.units.name", str, "a string"), damaged)
    for entry in files.values():  # entries this version does not read must stay inside too
        if isinstance(entry, dict) and "name" in entry:
            _inside(folder, entry["name"], damaged)
    return paths


def _inside(folder: Path, name: object, damaged) -> Path:
    """The path of data file `name`: a plain file name in `folder`, never a path out of it."""
    if (not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0")
            or (folder / name).resolve().parent != folder.resolve()):
        raise damaged(f"file name {str(name)[:80]!r} is not a file name inside the index folder")
    return folder / name


def _chunk(data: object) -> Chunk:
    """A chunk from its saved form, with every field of the type the search reads."""
    fields = {"id": str, "doc_id": str, "doc_title": str, "text": str, "heading_path": list}
    if not isinstance(data, dict) or not all(isinstance(data.get(k), t) for k, t in fields.items()):
        raise ValueError(f"a chunk line is not a chunk: {str(data)[:80]}")
    if not all(isinstance(h, str) for h in data["heading_path"]) or type(data.get("part", 1)) is not int:
        raise ValueError(f"chunk {data['id']!r} has a malformed heading path or part")
    return Chunk.from_dict(data)


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


def _model_fingerprint(embedder: Embedder) -> str:
    fingerprint = getattr(embedder, "fingerprint", None)
    return fingerprint() if callable(fingerprint) else embedder.model_id


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("chatbot", "numpy", "faiss-cpu", "bm25s", "tokenizers", "sentence-transformers", "langchain-core"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def _read_checked(path: Path, sha256: str) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise IndexCorruptError(f"{path} does not match its checksum in the manifest.")
    return data


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
