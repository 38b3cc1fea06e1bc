"""The index's manifest: what `manifest.json` must hold before any file it names is opened.

    paths = check_manifest(json.loads(text), folder)   # {"chunks": ..., "vectors": ..., ["units": ...]}

A manifest from another version, a hand edit or a half-copied folder must end in an
`IndexProblem` that names the fix, never a KeyError or TypeError later in the search.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatbot.errors import IndexCorruptError, IndexStaleError

FORMAT_VERSION = 2
MANIFEST = "manifest.json"


def check_manifest(manifest: object, folder: Path) -> dict[str, Path]:
    """Raise `IndexCorruptError` unless the manifest has what `load_index` and `check_current`
    read, of the right types (other fields are left alone); return the data files' paths."""
    def damaged(problem: str) -> IndexCorruptError:
        return IndexCorruptError(f"The index in {folder} is damaged ({MANIFEST}: {problem}).")

    def need(node: object, where: str, kind: type, name: str) -> Any:
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


def _inside(folder: Path, name: object, damaged: Callable[[str], IndexCorruptError]) -> Path:
    """The path of data file `name`: a plain file name in `folder`, never a path out of it."""
    if (not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0")
            or (folder / name).resolve().parent != folder.resolve()):
        raise damaged(f"file name {str(name)[:80]!r} is not a file name inside the index folder")
    return folder / name
