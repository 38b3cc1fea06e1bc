"""Stage 4: the index. Saves and loads the searchable form of the corpus.

    save_index(index, folder)
    index = load_index(folder)   # or an `IndexProblem` that names the fix

`index/` holds four files:

- `chunks.<hash>.jsonl`: the chunks with their metadata, each with its section role;
- `vectors.<hash>.faiss`: a FAISS inner-product index of their unit vectors;
- `units.<hash>.npy`: the vectors of every sentence, list item and table row (units.py);
- `manifest.json`: model, corpus fingerprint, chunking settings, the topics found in the
  articles, the fingerprint of the knowledge rules, library versions, build time, and the
  names and checksums of the two data files.

Data files are written under new names first and the manifest last, by an atomic rename, so
a crash mid-build leaves the previous index whole and usable, and a running server that
watches the manifest (live.py) switches to the new index in one step. Building, and opening
with a rebuild when stale, is in indexing.py; the manifest's check in manifest.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from chatbot.errors import ChatbotError, IndexCorruptError, IndexMissingError, IndexProblem
from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.glossary import Glossary
from chatbot.knowledge.topics import Topic
from chatbot.search.manifest import MANIFEST, check_manifest
from chatbot.search.units import UnitIndex
from chatbot.search.units import from_bytes as units_from_bytes
from chatbot.search.units import to_bytes as units_to_bytes


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
        paths = check_manifest(manifest, folder)
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


def _chunk(data: object) -> Chunk:
    """A chunk from its saved form, with every field of the type the search reads."""
    fields = {"id": str, "doc_id": str, "doc_title": str, "text": str, "heading_path": list}
    if not isinstance(data, dict) or not all(isinstance(data.get(k), t) for k, t in fields.items()):
        raise ValueError(f"a chunk line is not a chunk: {str(data)[:80]}")
    if not all(isinstance(h, str) for h in data["heading_path"]) or type(data.get("part", 1)) is not int:
        raise ValueError(f"chunk {data['id']!r} has a malformed heading path or part")
    return Chunk.from_dict(data)


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
