"""Stage 1: the article as a corpus, faithful to its source, and clear errors for bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatbot.errors import CorpusError
from chatbot.knowledge.corpus import corpus_fingerprint, load_corpus, load_document
from tests.conftest import CORPUS, SOURCE


def _alphanumerics(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "", text)


def test_article_has_the_same_words_in_the_same_order_as_its_source(documents):
    """Markdown adds structure only: strip its syntax and the letters and digits match exactly."""
    (doc,) = documents
    body = re.sub(r"^\s*\|?\s*-{3}.*$", "", doc.body, flags=re.M)  # table separator and rule lines
    assert _alphanumerics(body) == _alphanumerics(SOURCE.read_text(encoding="utf-8"))


def test_front_matter_gives_id_title_and_source(documents):
    (doc,) = documents
    assert doc.id == "medial-malleolus-pain"
    assert doc.title == "Why Does My Ankle Hurt Behind My Medial Malleolus? Causes and Solutions"
    assert doc.source.endswith("medial-malleolus-pain.txt")
    assert not doc.body.startswith("---")


def test_structure_is_explicit(documents):
    body = documents[0].body
    assert "### 4. Tarsal Tunnel Syndrome" in body
    assert body.count("#### Symptoms") == 8
    assert "| Symptom | Likely Cause |" in body
    assert "| Burning + tingling + numbness | Tarsal tunnel syndrome |" in body


def test_every_md_and_txt_file_is_an_article(tmp_path):
    (tmp_path / "a.md").write_text("---\nid: a\ntitle: A\n---\n\n# A\n\nText.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Plain Title\n\nSome plain text.\n", encoding="utf-8")
    (tmp_path / "notes.yaml").write_text("ignored: true\n", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["a", "b"]
    assert docs[1].title == "Plain Title"
    assert docs[1].body.startswith("# Plain Title")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"---\nid: [unclosed\n---\n# T\n\ntext\n", "front matter is not valid YAML"),
        (b"---\n- a list\n---\n# T\n\ntext\n", "front matter must be a mapping"),
        (b"---\ntitle: T\n", "no closing '---'"),
        (b"---\ntitle: T\n---\n\n", "no article text"),
        (b"no heading and no title here\n", None),  # a .md without title: first line is not a heading
        (b"---\nid: Bad Id!\ntitle: T\n---\n# T\n\ntext\n", "must be lowercase"),
        (b"---\ntitle: T\nabbreviations: [PTT]\n---\n# T\n\ntext\n", "abbreviations"),
    ],
)
def test_a_bad_file_is_named_with_its_problem(tmp_path, content, problem):
    path = tmp_path / "broken.md"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as caught:
        load_document(path)
    assert "broken.md" in str(caught.value)
    assert (problem or "no title") in str(caught.value)


def test_duplicate_ids_and_empty_folders_are_errors(tmp_path):
    with pytest.raises(CorpusError, match="no article files"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")
    for name in ("one.md", "two.md"):
        (tmp_path / name).write_text("---\nid: same\ntitle: T\n---\n# T\n\ntext\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"already used by one\.md"):
        load_corpus(tmp_path)


def test_fingerprint_changes_with_content_and_not_with_reload(corpus_copy: Path):
    before = corpus_fingerprint(load_corpus(corpus_copy))
    assert corpus_fingerprint(load_corpus(corpus_copy)) == before
    article = corpus_copy / "medial-malleolus-pain.md"
    article.write_text(article.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    assert corpus_fingerprint(load_corpus(corpus_copy)) != before


def test_shipped_corpus_folder_holds_only_articles():
    assert sorted(p.name for p in CORPUS.iterdir() if not p.name.startswith(".")) == ["medial-malleolus-pain.md"]
