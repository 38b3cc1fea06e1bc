"""Stage 5: hybrid retrieval, measured on the project question set with the real model."""

from __future__ import annotations

import pytest
import yaml
from langchain_core.runnables import RunnableLambda

from chatbot.knowledge.chunks import section_matches
from chatbot.search.retrieval import RetrievalSettings, keywords
from tests.conftest import ROOT

pytestmark = pytest.mark.model
CASES = [
    c for c in yaml.safe_load((ROOT / "evals/sets/core.yaml").read_text(encoding="utf-8"))["cases"]
    if c.get("expected_sections")
]


def _rank(retriever, case, k=5):
    hits = retriever.retrieve(case["question"], k).hits
    for rank, hit in enumerate(hits, start=1):
        if any(section_matches(hit.chunk, ref) for ref in case["expected_sections"]):
            return rank
    return None


def test_question_set_is_big_and_patient_worded():
    assert len(CASES) >= 40
    assert sum(c["category"] == "symptoms" for c in CASES) >= 8  # symptom descriptions naming no condition
    assert {"abbreviation", "typo"} <= {t for c in CASES for t in c.get("tags", [])}


def test_right_section_first_for_90_percent_and_in_top_3_for_all(retriever):
    ranks = {c["id"]: _rank(retriever, c) for c in CASES}
    first = sum(r == 1 for r in ranks.values()) / len(ranks)
    missed_top3 = {case_id: r for case_id, r in ranks.items() if r is None or r > 3}
    assert first >= 0.90, f"rank-1 {first:.0%}; not first: {[i for i, r in ranks.items() if r != 1]}"
    assert not missed_top3


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("PTTD treatment", "Treatment Options › For PTT/Tendon Problems"),
        ("what are the treatments for posterior tibial tendon problems", "Treatment Options › For PTT/Tendon Problems"),
        ("what does RICE mean", "Treatment Options › For Ligament Sprains"),
    ],
)
def test_abbreviations_are_found_both_ways(retriever, question, section):
    assert section_matches(retriever.retrieve(question, 1).hits[0].chunk, section)


def test_symptom_list_is_not_confused_with_the_next_condition(retriever):
    """The naive splitter's failure: "symptoms of tarsal tunnel" returned tendonosis symptoms."""
    top = retriever.retrieve("symptoms of tarsal tunnel syndrome", 1).hits[0].chunk
    assert top.section.endswith("Tarsal Tunnel Syndrome › Symptoms")


def test_hits_are_ranked_with_scores_between_0_and_1(retriever):
    result = retriever.retrieve("burning in my sole at night", 5)
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len({h.chunk.id for h in result.hits}) == 5


@pytest.mark.parametrize("question", [
    "what's the capital of france", "write me a python script to sort a list", "how do i invest in bitcoin",
    "who won the world cup", "can dogs eat grapes",
])
def test_nothing_relevant_is_signalled_for_unrelated_questions(retriever, question):
    assert retriever.retrieve(question).relevant is False


@pytest.mark.parametrize("question", [c["question"] for c in CASES if c["category"] == "symptoms"][:6])
def test_symptom_descriptions_are_relevant(retriever, question):
    assert retriever.retrieve(question).relevant is True


def test_what_others_said_is_not_what_is_asked(retriever):
    reader = retriever.reader
    assert "see_doctor" not in reader.intents("whats the difference? physio said one and my gp said the other")
    assert "see_doctor" in reader.intents("should i see my gp about it")
    assert reader.intents("how long before i get it looked at by a doctor") == ("see_doctor",)


def test_query_reading_fixes_spelling_and_adds_article_words(retriever):
    query = retriever.reader.read("tendonitus on the bottom of my foot, tingly")
    assert ("tendonitus", "tendonitis") in query.corrections
    assert "sole of the foot" in query.search_text and "tingling" in query.search_text
    assert "describes_symptoms" in retriever.reader.read("my foot goes numb at night").intents
    assert "treatment" in retriever.reader.read("how is it treated").intents


def test_condition_names_are_not_stemmed_together():
    assert keywords("tendonitis tendonosis tendon") == ["tendonitis", "tendonosis", "tendon"]
    assert keywords("treated treatment") == ["treat", "treat"]


def test_fusion_weights_are_settings(index, embedder):
    from chatbot.search.retrieval import HybridRetriever

    dense_only = HybridRetriever(index, embedder, RetrievalSettings(keyword_weight=0.0, intent_weight=0.0))
    hit = dense_only.retrieve("numbness in the sole of the foot", 1).hits[0]
    assert hit.score == pytest.approx(hit.dense, abs=1e-6)


def test_section_retriever_plugs_into_a_langchain_chain(bot):
    from chatbot.bot import SectionRetriever

    retriever = SectionRetriever(retriever=bot.retriever, k=3)
    chain = retriever | RunnableLambda(lambda docs: [d.metadata["section"] for d in docs])
    sections = chain.invoke("how is tarsal tunnel syndrome treated")
    assert sections[0] == "Treatment Options › For Tarsal Tunnel Syndrome"
    doc = retriever.invoke("how is tarsal tunnel syndrome treated")[0]
    assert doc.id == doc.metadata["id"] and 0 < doc.metadata["score"] <= 1
    assert "Surgery (release of the tarsal tunnel)" in doc.page_content
