"""Section roles on the same content under every heading convention (tests/data/corpora)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chatbot.errors import CorpusError
from chatbot.knowledge.corpus import load_corpus
from chatbot.knowledge.roles import RoleAssigner, role_of_heading
from chatbot.search.indexing import build_index

CORPORA = Path(__file__).parent / "data" / "corpora"
FIXTURES = sorted(p.name for p in CORPORA.iterdir() if (p / "expected.yaml").is_file())


def expected(name: str) -> dict:
    return yaml.safe_load((CORPORA / name / "expected.yaml").read_text(encoding="utf-8"))["articles"]


@pytest.fixture(scope="module")
def built(fake_embedder):
    return {name: build_index(load_corpus(CORPORA / name), fake_embedder) for name in FIXTURES}


@pytest.mark.parametrize("name", FIXTURES)
def test_every_section_gets_the_role_a_reader_would_give_it(built, name):
    truth = expected(name)
    wrong = [
        (c.doc_id, c.section, c.role, truth[c.doc_id]["roles"][" › ".join(c.heading_path)])
        for c in built[name].chunks if c.role != truth[c.doc_id]["roles"][" › ".join(c.heading_path)]
    ]
    assert not wrong
    assert all(c.role_source in ("heading", "structure", "front_matter") for c in built[name].chunks)


@pytest.mark.parametrize(("heading", "role"), [
    ("Call 999 or go to A&E if", "urgent"), ("Ask for an urgent GP appointment if", "urgent"),
    ("See a GP if", "see_doctor"), ("When to see a doctor", "see_doctor"),
    ("Check if you have plantar fasciitis", "symptoms"), ("Things you can do yourself", "self_care"),
    ("Treatments for heel pain", "treatment"), ("Risk factors", "risk_factors"), ("Complications", "complications"),
    ("Who is more likely to get it", "risk_factors"),
    ("How is it diagnosed?", "diagnosis"), ("What causes it?", "causes"), ("Outlook", "prognosis"),
    ("Lifestyle and home remedies", "self_care"), ("Prevention", "prevention"), ("Overview", "overview"),
])
def test_the_conventions_of_real_patient_sites_are_known(heading, role):
    assert role_of_heading(heading).role == role


def test_a_heading_pattern_names_the_condition_it_is_about():
    assert role_of_heading("Treatments for tarsal tunnel syndrome").topic == "tarsal tunnel syndrome"
    assert role_of_heading("What is a deltoid ligament sprain?").topic == "a deltoid ligament sprain"


def test_front_matter_roles_win_over_the_heading(tmp_path, fake_embedder):
    (tmp_path / "a.md").write_text(
        "---\nid: a\ntitle: A\nroles: {\"Symptoms\": summary}\n---\n# A\n\n## Symptoms\n\nSome text here.\n")
    index = build_index(load_corpus(tmp_path), fake_embedder)
    chunk = next(c for c in index.chunks if c.heading_path == ("Symptoms",))
    assert (chunk.role, chunk.role_source) == ("summary", "front_matter")


def test_an_unknown_role_in_front_matter_names_the_file_and_the_roles(tmp_path, fake_embedder):
    (tmp_path / "a.md").write_text(
        "---\nid: a\ntitle: A\nroles: {\"Symptoms\": sympton}\n---\n# A\n\n## Symptoms\n\nx.\n")
    with pytest.raises(CorpusError, match=r"a\.md.*'sympton'.*symptoms"):
        build_index(load_corpus(tmp_path), fake_embedder)


@pytest.mark.model
def test_a_heading_no_convention_knows_gets_the_nearest_role_by_meaning(embedder):
    from chatbot.knowledge.chunks import Chunk
    from chatbot.knowledge.corpus import Document

    chunks = [
        Chunk("d/x", "d", "D", ("Staying well",), "How to stop it coming back: strengthen muscles, wear good shoes."),
        Chunk("d/y", "d", "D", ("Ringing the practice",), "Ask for an appointment if the pain lasts or gets worse."),
        Chunk("d/z", "d", "D", ("Brass instruments",), "Trumpets and trombones are played by buzzing the lips."),
    ]
    vectors = embedder.embed([c.search_text() for c in chunks])
    doc = Document("d", "D", "", Path("d.md"))
    roles = RoleAssigner().assign(chunks, [doc], vectors, embedder.embed)
    assert [(r.role, r.source) for r in roles[:2]] == [("prevention", "similarity"), ("see_doctor", "similarity")]
    assert roles[2].role == "other"
