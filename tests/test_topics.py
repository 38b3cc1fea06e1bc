"""Topics (the conditions an article covers) from any structure, and the names that find them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chatbot.knowledge.corpus import load_corpus
from chatbot.knowledge.topics import Topics
from chatbot.search.indexing import build_index

CORPORA = Path(__file__).parent / "data" / "corpora"
FIXTURES = sorted(p.name for p in CORPORA.iterdir() if (p / "expected.yaml").is_file())


@pytest.fixture(scope="module")
def built(fake_embedder):
    return {name: build_index(load_corpus(CORPORA / name), fake_embedder) for name in FIXTURES}


@pytest.mark.parametrize("name", FIXTURES)
def test_the_conditions_a_reader_sees_are_the_topics(built, name):
    articles = yaml.safe_load((CORPORA / name / "expected.yaml").read_text(encoding="utf-8"))["articles"]
    want = sorted(c.lower() for a in articles.values() for c in a["conditions"])
    assert sorted(t.name.lower() for t in built[name].topics) == want


@pytest.mark.parametrize("name", FIXTURES)
def test_an_everyday_word_never_stands_for_one_condition(built, name):
    aliases = {a for t in built[name].topics for a in t.aliases}
    assert not aliases & {"sprain", "tendon", "ligament", "fracture", "stress", "tunnel", "nerve", "ankle", "pain"}


def test_topics_are_found_by_their_names_abbreviations_and_distinctive_words(built):
    topics = Topics(built["seed"].topics, built["seed"].glossary)
    found = [t.name for t in topics.mentioned("is it tarsal tunnel, PTTD or the deltoid thing?")]
    assert found == ["Tarsal Tunnel Syndrome", "Posterior Tibial Tendon Dysfunction", "Deltoid Ligament Sprain"]
    assert topics.mentioned("i sprained my ankle and the tendon hurts") == []
    assert topics.mentioned("what is carpal tunnel syndrome") == []  # another word where "tarsal" stands
    assert [t.name for t in topics.mentioned("my tunnel syndrome")] == ["Tarsal Tunnel Syndrome"]


def test_a_single_condition_article_is_one_topic_for_all_its_sections(built):
    index = built["mayo-style"]
    topic = next(t for t in index.topics if t.name == "Tarsal tunnel syndrome")
    own = [c for c in index.chunks if topic.heads(c)]
    assert own and {c.doc_id for c in own} == {"tarsal-tunnel-syndrome"} and topic.path == ()


def test_a_section_in_another_topic_is_not_related(built):
    index = built["seed"]
    topics = Topics(index.topics, index.glossary)
    tts_symptoms = next(c for c in index.chunks if c.heading_path[-2:] == ("4. Tarsal Tunnel Syndrome", "Symptoms"))
    assert topics.related(tts_symptoms, "Tarsal Tunnel Syndrome")
    assert not topics.related(tts_symptoms, "Deltoid Ligament Sprain")


def test_front_matter_topics_come_with_their_other_names(built):
    topics = Topics(built["bicycle"].topics)
    assert [t.name for t in topics.mentioned("my chain stretch and worn brake pads")] == ["Chain wear", "Worn brakes"]


def test_topics_are_kept_in_the_index(built, tmp_path):
    from chatbot.search.index import load_index, save_index

    save_index(built["split"], tmp_path)
    assert load_index(tmp_path).topics == built["split"].topics
