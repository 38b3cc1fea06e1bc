"""Stage 2: chunks follow the heading tree, keep lists with their headings, have stable ids."""

from __future__ import annotations

import pytest

from chatbot.knowledge.chunks import PATH_SEPARATOR, chunk_document, chunk_documents, section_matches
from chatbot.knowledge.corpus import Document, load_corpus
from chatbot.knowledge.markdown import parse_blocks

TTS_SYMPTOMS_ID = (
    "medial-malleolus-pain/common-causes-of-pain-behind-the-medial-malleolus/tarsal-tunnel-syndrome/symptoms"
)


def _by_section(chunks, ref):
    found = [c for c in chunks if section_matches(c, ref)]
    assert len(found) == 1, (ref, [c.section for c in found])
    return found[0]


def test_every_chunk_knows_its_document_heading_path_and_text(documents, embedder):
    chunks = chunk_documents(documents, 256, embedder.count_tokens)
    assert len(chunks) == 47
    for chunk in chunks:
        assert chunk.doc_id == "medial-malleolus-pain"
        assert chunk.text.strip()
        for block in parse_blocks(chunk.text):
            assert block.markdown in documents[0].body
    tts = _by_section(chunks, "Tarsal Tunnel Syndrome › Symptoms")
    assert tts.heading_path == (
        "Common Causes of Pain Behind the Medial Malleolus", "4. Tarsal Tunnel Syndrome", "Symptoms",
    )
    assert tts.section == PATH_SEPARATOR.join(tts.heading_path)
    assert tts.id == TTS_SYMPTOMS_ID


def test_lists_and_tables_stay_with_their_heading(documents):
    chunks = chunk_documents(documents)
    for chunk in chunks:
        for block in parse_blocks(chunk.text):
            if block.kind in ("list", "table"):
                assert chunk.heading_path, f"a {block.kind} lost its heading"
    symptoms = _by_section(chunks, "Tarsal Tunnel Syndrome › Symptoms")
    assert "- Burning or tingling sensation" in symptoms.text
    assert "Tendonosis" not in symptoms.search_text()  # the naive splitter's failure mode
    table = _by_section(chunks, "How to Identify the Cause")
    assert table.text.count("\n|") == 8  # header, separator and 6 rows


def test_heading_path_is_part_of_what_gets_embedded(documents):
    chunk = _by_section(chunk_documents(documents), "Deltoid Ligament Sprain › Symptoms")
    assert chunk.search_text().startswith(chunk.section)


def test_lead_ins_open_their_subsections_instead_of_standing_alone(documents):
    chunks = chunk_documents(documents)
    assert not any(c.text.strip() == "Treatment depends on the specific cause:" for c in chunks)
    for ref in ("For PTT/Tendon Problems", "For Stress Fractures"):
        assert _by_section(chunks, ref).text.startswith("Treatment depends on the specific cause:")


def test_ids_do_not_change_when_unrelated_text_changes(documents):
    (doc,) = documents
    before = {c.section: c.id for c in chunk_document(doc)}
    edited_body = doc.body.replace("Morning stiffness", "Morning stiffness, and more words here").replace(
        "### 8. Posterior Ankle Impingement", "### 9. Posterior Ankle Impingement"
    )
    edited = Document(doc.id, doc.title, edited_body, doc.path)
    after = {c.section.replace("9. Posterior", "8. Posterior"): c.id for c in chunk_document(edited)}
    assert after == before


def test_ids_are_unique(documents):
    ids = [c.id for c in chunk_documents(documents)]
    assert len(ids) == len(set(ids))


def test_long_sections_split_on_sentences_under_the_token_budget(embedder):
    sentence = "The tendon becomes inflamed and sore after long walks on hard ground every day. "
    long_list = "\n".join(f"- Item number {i} about swelling along the tendon" for i in range(60))
    body = f"# Long\n\n## Big Section\n\n{sentence * 40}\n\n## Big List\n\n{long_list}\n"
    doc = Document("long", "Long", body, path=__import__("pathlib").Path("long.md"))
    chunks = chunk_document(doc, 256, embedder.count_tokens)
    paragraph_parts = [c for c in chunks if c.heading_path == ("Big Section",)]
    list_parts = [c for c in chunks if c.heading_path == ("Big List",)]
    assert len(paragraph_parts) > 1 and len(list_parts) > 1
    for chunk in chunks:
        assert embedder.count_tokens(chunk.search_text()) <= 256
    for part in paragraph_parts:
        assert part.text.endswith(".")  # cut between sentences
    assert [c.id for c in paragraph_parts][1] == "long/big-section~2"
    rebuilt = " ".join(p.text for p in paragraph_parts)
    assert rebuilt.split() == (sentence * 40).split()


@pytest.mark.parametrize(
    ("ref", "matches"),
    [
        ("Tarsal Tunnel Syndrome › Symptoms", True),
        ("4. tarsal tunnel syndrome > symptoms", True),
        ("Symptoms", True),
        ("Tarsal Tunnel Syndrome", False),  # names the condition's own opening text, not its parts
        (TTS_SYMPTOMS_ID, True),
    ],
)
def test_section_references(documents, ref, matches):
    chunk = _by_section(chunk_documents(documents), "Tarsal Tunnel Syndrome › Symptoms")
    assert section_matches(chunk, ref) is matches


def test_a_clinic_can_add_an_article(tmp_path, documents):
    (tmp_path / "extra.md").write_text("# Heel Care\n\n## Tips\n\n- Stretch gently\n", encoding="utf-8")
    chunks = chunk_documents(load_corpus(tmp_path))
    assert [(c.id, c.section) for c in chunks] == [("extra/tips", "Tips")]
