"""Stage 4: the saved index: manifest, atomic writes, and clear messages when it cannot be used."""

from __future__ import annotations

import json

import pytest

import chatbot.search.index as index_module
from chatbot.errors import IndexCorruptError, IndexMissingError, IndexStaleError
from chatbot.knowledge.corpus import load_corpus
from chatbot.search.index import load_index, save_index
from chatbot.search.indexing import build_index, check_current, open_index
from tests.conftest import CORPUS


@pytest.fixture
def saved(tmp_path, documents, fake_embedder):
    folder = tmp_path / "index"
    save_index(build_index(documents, fake_embedder), folder)
    return folder


def test_round_trip_keeps_chunks_vectors_and_glossary(saved, fake_index):
    loaded = load_index(saved)
    assert [c.to_dict() for c in loaded.chunks] == [c.to_dict() for c in fake_index.chunks]
    assert loaded.vectors.ntotal == len(fake_index.chunks)
    assert loaded.glossary.long_forms["PTTD"] == "posterior tibial tendon dysfunction"


def test_manifest_records_what_the_index_was_built_from(saved, documents):
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["model"] == {
        "id": "test/hashing-embedder", "dim": 64, "backend": "hashing", "fingerprint": "hashing-v1",
    }
    assert manifest["corpus"]["documents"][0]["file"] == "medial-malleolus-pain.md"
    assert len(manifest["corpus"]["fingerprint"]) == 64
    assert manifest["chunking"] == {"max_tokens": 256, "chunker_version": 2, "chunks": 47}
    assert {"python", "numpy", "faiss-cpu", "bm25s"} <= set(manifest["versions"])
    assert manifest["built_at"].endswith("+00:00")
    assert sorted(p.name for p in saved.iterdir()) == sorted(
        ["manifest.json", *(manifest["files"][kind]["name"] for kind in ("chunks", "vectors", "units"))]
    )


def test_the_index_uses_inner_product_on_unit_vectors(index):
    import faiss
    import numpy as np

    assert index.vectors.metric_type == faiss.METRIC_INNER_PRODUCT
    vectors = np.stack([index.vectors.reconstruct(i) for i in range(index.vectors.ntotal)])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_crash_mid_build_leaves_the_old_index_usable(saved, documents, fake_embedder, monkeypatch, corpus_copy):
    before = json.loads((saved / "manifest.json").read_text())
    changed = load_corpus(corpus_copy)
    article = corpus_copy / "medial-malleolus-pain.md"
    article.write_text(article.read_text(encoding="utf-8").replace("Morning stiffness", "Stiff mornings"))
    new_index = build_index(load_corpus(corpus_copy), fake_embedder)
    real_write = index_module._atomic_write

    def crash_on_manifest(path, data):
        if path.name == "manifest.json":
            raise OSError("disk full")
        real_write(path, data)

    monkeypatch.setattr(index_module, "_atomic_write", crash_on_manifest)
    with pytest.raises(OSError):
        save_index(new_index, saved)
    loaded = load_index(saved)  # still the old one, whole
    assert loaded.manifest["corpus"]["fingerprint"] == before["corpus"]["fingerprint"]
    check_current(loaded, documents, fake_embedder, 256)
    assert changed  # the unchanged copy loaded fine before the edit


def test_missing_index_names_the_command_that_fixes_it(tmp_path):
    with pytest.raises(IndexMissingError, match="chatbot index build"):
        load_index(tmp_path / "nothing")


@pytest.mark.parametrize("damage", ["truncate_vectors", "edit_chunks", "bad_manifest", "delete_chunks"])
def test_damaged_index_is_reported_with_the_fix(saved, damage):
    manifest = json.loads((saved / "manifest.json").read_text())
    vectors, chunks = saved / manifest["files"]["vectors"]["name"], saved / manifest["files"]["chunks"]["name"]
    if damage == "truncate_vectors":
        vectors.write_bytes(vectors.read_bytes()[:100])
    elif damage == "edit_chunks":
        chunks.write_text(chunks.read_text().replace("Tarsal", "Carpal"))
    elif damage == "bad_manifest":
        (saved / "manifest.json").write_text("{not json")
    else:
        chunks.unlink()
    with pytest.raises(IndexCorruptError, match="chatbot index build"):
        load_index(saved)


def test_changed_corpus_or_other_model_makes_the_index_stale(saved, corpus_copy, fake_embedder, embedder):
    index = load_index(saved)
    article = corpus_copy / "medial-malleolus-pain.md"
    article.write_text(article.read_text(encoding="utf-8") + "\nA new paragraph.\n", encoding="utf-8")
    with pytest.raises(IndexStaleError, match=r"corpus changed.*medial-malleolus-pain\.md"):
        check_current(index, load_corpus(corpus_copy), fake_embedder, 256)
    with pytest.raises(IndexStaleError, match="model"):
        check_current(index, load_corpus(corpus_copy), embedder, 256)
    with pytest.raises(IndexStaleError, match="chunking"):
        check_current(load_index(saved), load_corpus(CORPUS), fake_embedder, 128)


def test_open_index_rebuilds_when_asked(tmp_path, corpus_copy, fake_embedder, caplog):
    folder = tmp_path / "fresh"
    with pytest.raises(IndexMissingError):
        open_index(folder, corpus_copy, fake_embedder)
    with caplog.at_level("WARNING"):
        built = open_index(folder, corpus_copy, fake_embedder, rebuild=True)
    assert "Building the search index" in caplog.text
    assert (folder / "manifest.json").is_file()
    again = open_index(folder, corpus_copy, fake_embedder)  # current now: loads, no rebuild
    assert again.manifest["built_at"] == built.manifest["built_at"]


def test_a_rebuild_embeds_only_the_chunks_whose_text_changed(corpus_copy, tmp_path):
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.search.indexing import build_index
    from tests.fakes import HashingEmbedder

    embedder = HashingEmbedder()
    first = build_index(load_corpus(corpus_copy), embedder)
    article = next(corpus_copy.glob("*.md"))
    article.write_text(article.read_text(encoding="utf-8").replace("Morning stiffness", "Stiffness in the morning"),
                       encoding="utf-8")
    second = build_index(load_corpus(corpus_copy), embedder, previous=first)
    embedded = second.manifest["embedded"]
    assert (embedded["chunks"], embedded["reused"]) == (1, len(first.chunks) - 1)
    assert (embedded["units"], embedded["units_reused"]) == (1, len(first.units.refs) - 1)  # the changed item only
    fresh = build_index(load_corpus(corpus_copy), embedder)
    assert (second.vectors.reconstruct_n(0, second.vectors.ntotal)
            == fresh.vectors.reconstruct_n(0, fresh.vectors.ntotal)).all()


def test_unit_vectors_are_saved_and_loaded_with_the_index(fake_index, tmp_path):
    from chatbot.search.index import load_index, save_index

    save_index(fake_index, tmp_path)
    loaded = load_index(tmp_path)
    assert loaded.units is not None and len(loaded.units.refs) == len(fake_index.units.refs) > 100
    assert (loaded.units.vectors == fake_index.units.vectors).all()
    assert {r.unit.text for r in loaded.units.refs} >= {"Gradual onset of dull ache", "Morning stiffness"}
