"""A real saved index (fake embedder), damaged in every way we know of: each gives a clear
message naming the fix and, where the folder is ours to rewrite, a rebuild; never a KeyError,
TypeError or RecursionError traceback, and never a file opened outside the index folder."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from chatbot.errors import ChatbotError, IndexCorruptError, IndexProblem, IndexStaleError
from chatbot.search.index import load_index, save_index
from chatbot.search.indexing import build_index, open_index
from chatbot.search.manifest import MANIFEST
from tests.conftest import CORPUS


@pytest.fixture
def saved(tmp_path, documents, fake_embedder) -> Path:
    folder = tmp_path / "index"
    save_index(build_index(documents, fake_embedder), folder)
    return folder


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest))


def edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    """A damage that edits the manifest's JSON."""
    def damage(folder: Path) -> None:
        manifest = manifest_of(folder)
        change(manifest)
        write_manifest(folder, manifest)
    return damage


def rewrite_bytes(kind: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """A damage to a data file, with its checksum updated so only the content is wrong."""
    def damage(folder: Path) -> None:
        manifest = manifest_of(folder)
        path = folder / manifest["files"][kind]["name"]
        data = change(path.read_bytes())
        path.write_bytes(data)
        manifest["files"][kind]["sha256"] = hashlib.sha256(data).hexdigest()
        write_manifest(folder, manifest)
    return damage


def rewrite_chunks(change: Callable[[list[dict]], list]) -> Callable[[Path], None]:
    def lines(data: bytes) -> bytes:
        changed = change([json.loads(line) for line in data.decode().splitlines()])
        return "".join(json.dumps(line) + "\n" for line in changed).encode()
    return rewrite_bytes("chunks", lines)


def data_file(folder: Path, kind: str) -> Path:
    return folder / manifest_of(folder)["files"][kind]["name"]


def name_outside(folder: Path) -> None:
    """The chunk file's name leads out of the folder, to a copy with the right checksum: loading
    it would read a file the index does not own."""
    chunks = data_file(folder, "chunks")
    shutil.copy(chunks, folder.parent / "outside.jsonl")
    edit(lambda m: m["files"]["chunks"].update(name="../outside.jsonl"))(folder)


def symlink_outside(folder: Path) -> None:
    chunks = data_file(folder, "chunks")
    shutil.copy(chunks, folder.parent / "outside.jsonl")
    (folder / "chunks.link.jsonl").symlink_to(folder.parent / "outside.jsonl")
    edit(lambda m: m["files"]["chunks"].update(name="chunks.link.jsonl"))(folder)


def name_a_folder(folder: Path) -> None:
    (folder / "sub.faiss").mkdir()  # (not "vectors.*": save_index would trip on it)
    edit(lambda m: m["files"]["vectors"].update(name="sub.faiss"))(folder)


def set_path(path: str, value) -> Callable[[Path], None]:
    *parents, key = path.split(".")

    def change(manifest: dict) -> None:
        node = manifest
        for part in parents:
            node = node[part]
        node[key] = value
    return edit(change)


def drop(path: str) -> Callable[[Path], None]:
    *parents, key = path.split(".")

    def change(manifest: dict) -> None:
        node = manifest
        for part in parents:
            node = node[part]
        del node[key]
    return edit(change)


DAMAGES: dict[str, Callable[[Path], None]] = {
    # the data files
    "vectors truncated": lambda f: data_file(f, "vectors").write_bytes(data_file(f, "vectors").read_bytes()[:100]),
    "vectors empty": lambda f: data_file(f, "vectors").write_bytes(b""),
    "chunks edited": lambda f: data_file(f, "chunks").write_text(data_file(f, "chunks").read_text().replace("a", "o")),
    "chunks deleted": lambda f: data_file(f, "chunks").unlink(),
    "vectors deleted": lambda f: data_file(f, "vectors").unlink(),
    "chunk line not an object": rewrite_chunks(lambda lines: [*lines[:-1], ["not", "a", "chunk"]]),
    "chunk text a number": rewrite_chunks(lambda lines: [{**lines[0], "text": 5}, *lines[1:]]),
    "chunk heading path a string": rewrite_chunks(lambda lines: [{**lines[0], "heading_path": "Symptoms"}, *lines[1:]]),
    "chunk missing its id": rewrite_chunks(lambda lines: [{k: v for k, v in lines[0].items() if k != "id"},
                                                          *lines[1:]]),
    "one chunk fewer than vectors": rewrite_chunks(lambda lines: lines[:-1]),
    "chunks not UTF-8": rewrite_bytes("chunks", lambda data: b"\xff\xfe" + data),
    "vectors garbage, checksum right": rewrite_bytes("vectors", lambda data: data[:8] + bytes(range(256)) * 4),
    # the manifest as a file
    "manifest not JSON": lambda f: (f / MANIFEST).write_text("{not json"),
    "manifest empty": lambda f: (f / MANIFEST).write_text(""),
    "manifest not UTF-8": lambda f: (f / MANIFEST).write_bytes(b'{"model": "\xff"}'),
    "manifest a list": lambda f: (f / MANIFEST).write_text("[]"),
    "manifest null": lambda f: (f / MANIFEST).write_text("null"),
    "manifest nested 100,000 deep": lambda f: (f / MANIFEST).write_text("[" * 100_000 + "]" * 100_000),
    # fields missing, null or of the wrong type
    "no model": drop("model"),
    "no corpus": drop("corpus"),
    "no chunking": drop("chunking"),
    "no files": drop("files"),
    "no built_at": drop("built_at"),
    "no format_version": drop("format_version"),
    "model null": set_path("model", None),
    "model a string": set_path("model", "all-MiniLM-L6-v2"),
    "model id missing": drop("model.id"),
    "dim a string": set_path("model.dim", "64"),
    "dim a float": set_path("model.dim", 64.5),
    "dim true": set_path("model.dim", True),
    "dim zero": set_path("model.dim", 0),
    "dim not the vectors' dim": set_path("model.dim", 32),
    "corpus fingerprint null": set_path("corpus.fingerprint", None),
    "corpus documents an object": set_path("corpus.documents", {"file": "a.md"}),
    "corpus document without sha256": edit(lambda m: m["corpus"]["documents"][0].pop("sha256")),
    "chunking max_tokens a string": set_path("chunking.max_tokens", "256"),
    "chunking a list": set_path("chunking", [256, 2]),
    "files.chunks null": set_path("files.chunks", None),
    "files.vectors without sha256": drop("files.vectors.sha256"),
    "glossary a list": set_path("glossary", ["PTTD"]),
    "format_version a string": set_path("format_version", "1"),
    # file names that leave the folder
    "chunks named ../outside.jsonl": name_outside,
    "chunks named by a symlink out": symlink_outside,
    "vectors named /etc/hostname": set_path("files.vectors.name", "/etc/hostname"),
    "vectors named ../../../etc/hostname": set_path("files.vectors.name", "../../../etc/hostname"),
    "vectors named ..": set_path("files.vectors.name", ".."),
    "vectors named ''": set_path("files.vectors.name", ""),
    "vectors named with a NUL": set_path("files.vectors.name", "vectors\x00.faiss"),
    "vectors named a folder": name_a_folder,
    "vectors name a number": set_path("files.vectors.name", 7),
    "an extra file entry leaving the folder": set_path("files.extra", {"name": "../../x", "sha256": "0" * 64}),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_index_is_reported_with_the_fix_and_rebuilt(saved, damage, fake_embedder, caplog):
    DAMAGES[damage](saved)
    with pytest.raises(IndexProblem) as raised:
        load_index(saved)
    assert isinstance(raised.value, IndexCorruptError | IndexStaleError)
    message = str(raised.value)
    assert "Run `chatbot index build`" in message and str(saved) in message
    error = raised.value  # and no KeyError or TypeError chained to it, to show up as a traceback
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)

    with caplog.at_level(logging.WARNING, logger="chatbot.search.indexing"):
        rebuilt = open_index(saved, CORPUS, fake_embedder, rebuild=True)
    assert "Building the search index" in caplog.text
    assert rebuilt.vectors.ntotal == len(rebuilt.chunks) > 10
    assert load_index(saved).manifest["built_at"] == rebuilt.manifest["built_at"]  # saved whole


def test_file_names_outside_the_folder_are_never_opened(saved, monkeypatch):
    name_outside(saved)
    opened = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: opened.append(self.resolve()) or real_read(self))
    with pytest.raises(IndexCorruptError, match=r"'\.\./outside\.jsonl' is not a file name inside the index"):
        load_index(saved)
    assert all(path.parent == saved.resolve() for path in opened), opened


@pytest.mark.parametrize(("damage", "message"), [
    (set_path("model.dim", "sixty-four"), r"model\.dim must be a whole number, not str 'sixty-four'"),
    (set_path("model", None), r"model must be an object, not null"),
    (drop("corpus"), r"corpus must be an object, not missing"),
    (drop("files.chunks.name"), r"files\.chunks\.name must be a string, not missing"),
], ids=["dim a word", "model null", "no corpus", "no chunks file name"])
def test_messages_name_the_field_and_what_it_holds(saved, damage, message):
    damage(saved)
    with pytest.raises(IndexCorruptError, match=message):
        load_index(saved)


def test_a_dimension_mismatch_says_so(saved):
    set_path("model.dim", 32)(saved)
    with pytest.raises(IndexCorruptError, match="vectors of 64 dimensions; its manifest says 32"):
        load_index(saved)


def test_extra_manifest_fields_are_left_alone(saved):
    edit(lambda m: m.update(incremental={"parts": [1, 2]}, notes="x"))(saved)
    assert load_index(saved).manifest["notes"] == "x"


# --- places that are not ours to rewrite: a clear error, and nothing deleted -----------------
def index_dir_is_a_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-folder"
    path.write_text("someone's notes\n")
    return path


def manifest_is_a_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    (folder / MANIFEST).mkdir(parents=True)
    (folder / MANIFEST / "keep.txt").write_text("kept")
    return folder


@pytest.mark.parametrize("place", [index_dir_is_a_file, manifest_is_a_folder])
def test_an_index_path_of_the_wrong_kind_is_a_clear_error_and_left_alone(tmp_path, place, fake_embedder):
    folder = place(tmp_path)
    before = sorted((p.relative_to(tmp_path), p.is_dir()) for p in tmp_path.rglob("*"))
    with pytest.raises(ChatbotError, match=r"is a file, not a folder|is not a file") as raised:
        load_index(folder)
    assert not isinstance(raised.value, IndexProblem)  # not rebuilt: that would delete what is there
    with pytest.raises(ChatbotError, match=r"is a file, not a folder|is not a file"):
        open_index(folder, CORPUS, fake_embedder, rebuild=True)
    assert sorted((p.relative_to(tmp_path), p.is_dir()) for p in tmp_path.rglob("*")) == before


def test_the_app_starts_on_a_damaged_index_and_stops_clearly_on_a_file(tmp_path, monkeypatch, fake_embedder,
                                                                      caplog, saved):
    """app.py: a manifest without `model` is rebuilt at start-up; an index path that is a file
    ends start-up with one line and exit code 1, no traceback."""
    import app
    import chatbot.bot

    monkeypatch.setattr(chatbot.bot, "load_embedder", lambda *args, **kwargs: fake_embedder)
    drop("model")(saved)
    monkeypatch.setenv("CHATBOT_INDEX_DIR", str(saved))
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    with caplog.at_level(logging.INFO):
        app.build(app.Settings.load())
    assert "Building the search index: The index in" in caplog.text and "model must be an object" in caplog.text
    assert load_index(saved).manifest["model"]["id"] == fake_embedder.model_id

    caplog.clear()
    monkeypatch.setenv("CHATBOT_INDEX_DIR", str(index_dir_is_a_file(tmp_path)))
    monkeypatch.setattr(app.logging, "basicConfig", lambda **kwargs: None)  # keep pytest's capture
    assert app.main([]) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "is a file, not a folder" in errors[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
