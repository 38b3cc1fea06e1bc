"""Red flags: each article's own, from its see-a-doctor sections; never another article's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chatbot.answer.red_flags import RedFlags
from chatbot.knowledge.corpus import load_corpus
from chatbot.search.indexing import build_index

CORPORA = Path(__file__).parent / "data" / "corpora"
GENERIC = ["Pain that is severe, getting worse or not improving"]


def flags_for(name, embedder, embed=None):
    index = build_index(load_corpus(CORPORA / name), embedder)
    return RedFlags.from_chunks(index.chunks, embed, GENERIC, "See a doctor if you have:", 4)


@pytest.mark.parametrize("name", ["seed", "split", "nhs-style", "mayo-style", "medlineplus-style", "bicycle", "prose"])
def test_each_article_has_exactly_its_own_see_a_doctor_items(name, fake_embedder):
    articles = yaml.safe_load((CORPORA / name / "expected.yaml").read_text(encoding="utf-8"))["articles"]
    flags = flags_for(name, fake_embedder)
    for doc_id, truth in articles.items():
        found = flags.by_article.get(doc_id)
        assert (found.flags if found else []) == truth["red_flags"]


def test_a_reply_shows_the_flags_of_the_article_it_cites_and_never_another(fake_embedder):
    flags = flags_for("split", fake_embedder)
    tts = flags.for_reply(["tarsal-tunnel-syndrome"], None)
    assert tts.source == ["tarsal-tunnel-syndrome"] and tts.heading == "See a doctor if:"
    assert set(tts.flags) <= set(flags.by_article["tarsal-tunnel-syndrome"].flags)
    none_of_its_own = flags.for_reply(["ligament-sprains-and-stress-fractures"], None)
    assert none_of_its_own.flags == GENERIC and none_of_its_own.source == []


def test_the_articles_own_lead_in_heads_its_flags(fake_embedder):
    seed = flags_for("seed", fake_embedder).for_reply([], None)
    assert seed.heading == "Seek professional evaluation if you have:" and len(seed.flags) == 4
    bicycle = flags_for("bicycle", fake_embedder).for_reply([], None)
    assert bicycle.heading == "Take the bike to a bike shop if:"


def test_a_reply_citing_nothing_with_several_articles_gets_the_generic_flags(fake_embedder):
    flags = flags_for("bicycle-plus-seed", fake_embedder)
    assert flags.for_reply([], None).flags == GENERIC


@pytest.mark.model
def test_flags_closest_to_the_topic_come_first(embedder):
    flags = flags_for("seed", embedder, embedder.embed)
    nerve = embedder.embed(["Burning or tingling sensation. Numbness in the sole of the foot"])
    assert flags.for_reply(["medial-malleolus-pain"], nerve).flags[0] == "Numbness or tingling"
    assert flags.for_reply(["medial-malleolus-pain"], None).flags[0] == "Persistent pain lasting more than 2-3 weeks"
