"""Evaluation metrics against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

from chatbot.evals import metrics as m
from chatbot.evals.gates import Gate, critical_gate, evaluate, parse_gate
from chatbot.evals.judge import CaseResult, Check, Outcome
from chatbot.evals.sets import Case
from chatbot.evals.summary import Stat, summarize
from chatbot.evals.support import answer_support, split_footer

RANKED = ["x", "a", "y", "c", "z"]
RELEVANT = [{"a"}, {"c"}]


# --- retrieval ------------------------------------------------------------------------------
def test_hit_at_k():
    assert m.hit_at_k(RANKED, RELEVANT, 1) == 0.0  # "x" is not relevant
    assert m.hit_at_k(RANKED, RELEVANT, 2) == 1.0  # "a" at rank 2
    assert m.hit_at_k(RANKED, [], 5) is None  # no expectation: N/A, not 0


def test_recall_at_k():
    assert m.recall_at_k(RANKED, RELEVANT, 2) == 0.5  # a found, c (rank 4) not yet
    assert m.recall_at_k(RANKED, RELEVANT, 4) == 1.0
    assert m.recall_at_k(RANKED, [{"a"}, {"c"}, {"q"}], 5) == pytest.approx(2 / 3)


def test_recall_counts_a_split_section_once():
    # a section in two parts is one expected section, found if either part is
    assert m.recall_at_k(["a~2", "x"], [{"a", "a~2"}, {"c"}], 2) == 0.5


def test_reciprocal_rank():
    assert m.reciprocal_rank(RANKED, RELEVANT) == 0.5  # first relevant at rank 2
    assert m.reciprocal_rank(["x", "y", "c"], RELEVANT) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["x", "y"], RELEVANT) == 0.0
    assert m.reciprocal_rank(["x"], []) is None


def test_ndcg_at_k():
    # DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
    # IDCG (2 relevant) = 1/log2(2) + 1/log2(3) = 1.630930;  nDCG = 0.650920
    assert m.ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(0.650920, abs=1e-6)
    # only the top 2: DCG = 0.630930, IDCG = 1.630930 -> 0.386853
    assert m.ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx(0.386853, abs=1e-6)
    assert m.ndcg_at_k(["a", "c"], RELEVANT, 5) == pytest.approx(1.0)


def test_ndcg_gives_no_gain_for_a_second_part_of_the_same_section():
    # ranks: a (gain 1), a~2 (same section: 0), c (1/log2(4) = 0.5) -> DCG 1.5; IDCG 1.630930
    assert m.ndcg_at_k(["a", "a~2", "c"], [{"a", "a~2"}, {"c"}], 5) == pytest.approx(1.5 / 1.630930, abs=1e-6)


def test_ndcg_ideal_is_capped_at_k():
    # 3 expected sections, k = 1, the first is one of them: DCG = 1, IDCG = 1 -> 1.0
    assert m.ndcg_at_k(["a"], [{"a"}, {"b"}, {"c"}], 1) == 1.0
    assert math.isclose(m.ndcg_at_k(["q", "a"], [{"a"}], 2), 1 / math.log2(3))


# --- citations ------------------------------------------------------------------------------
def test_citation_precision_and_recall():
    assert m.citation_precision(["a", "x"], RELEVANT) == 0.5
    assert m.citation_recall(["a", "x"], RELEVANT) == 0.5
    assert m.citation_recall(["a", "c"], RELEVANT) == 1.0
    assert m.citation_precision([], RELEVANT) is None  # nothing cited: precision is undefined
    assert m.citation_recall([], RELEVANT) == 0.0  # but nothing expected was cited
    assert m.citation_recall(["a"], []) is None


def test_citation_problems():
    texts = {"a": "Rest and Ice\n2. Orthotics", "b": "Swelling"}
    ok = {"n": 1, "id": "a", "quote": "Rest and Ice"}
    assert m.citation_problems("Rest and Ice [1]", [ok], texts, {"a"}) == []
    bad_quote = {"n": 1, "id": "a", "quote": "Rest and heat"}
    assert m.citation_problems("x [1]", [bad_quote], texts, None) == ["[1] quote is not in a"]
    unknown = {"n": 1, "id": "zz", "quote": "Rest"}
    assert m.citation_problems("x [1]", [unknown], texts, None) == ["[1] cites unknown section 'zz'"]
    not_retrieved = {"n": 1, "id": "b", "quote": "Swelling"}
    assert m.citation_problems("x [1]", [not_retrieved], texts, {"a"}) == ["[1] cites b, which was not retrieved"]
    assert m.citation_problems("x [1] [2]", [ok], texts, {"a"}) == ["marker [2] has no citation"]
    assert m.citation_problems("no markers", [ok], texts, {"a"}) == ["citation [1] is not used in the answer"]


# --- text checks ----------------------------------------------------------------------------
def test_contains_is_whole_word_and_case_insensitive():
    assert m.contains("RICE (Rest, **Ice**, Compression)", "ice")
    assert not m.contains("Please notice the swelling", "ice")
    assert m.contains("Don’t ignore the pain—it won’t go away on its own", "won't go away on its own")
    assert m.contains("Cross-train with low-impact exercise", "low-impact")


def test_missing_groups_and_present_terms():
    text = "Rest and ice. Orthotics help."
    groups = [["rest"], ["surgery", "orthotics"], ["elevation", "elevate"]]
    assert m.missing_groups(text, groups) == [["elevation", "elevate"]]
    assert m.present_terms("take 400 mg", ["mg", "800"]) == ["mg"]


def test_dose_amounts():
    assert m.dose_amounts("Take 400 mg twice") == ["400 mg"]
    assert m.dose_amounts("200mg or 2 tablets, 3 times a day") == ["200mg", "2 tablets", "3 times a day"]
    assert m.dose_amounts("twice a day") == ["twice a day"]
    # the article's own numbers are not doses
    assert m.dose_amounts("Ice for 15-20 minutes, several times daily. Rest (often 6-8 weeks)") == []


def test_numbers_leave_out_markers_and_list_numbering():
    text = "**Treatment** [2]\n1. Rest (often 6-8 weeks)\n2. Ice for 15-20 minutes [3]"
    assert m.numbers_in(text) == ["6", "8", "15", "20"]


def test_invented_numbers():
    article = m.article_numbers(["Rest (often 6-8 weeks)", "more than 2-3 weeks"])
    assert article == {"6", "8", "2", "3"}
    assert m.invented_numbers("Rest for 6-8 weeks [1]", article) == []
    assert m.invented_numbers("Rest for 10 weeks, or 4.5 [1]", article) == ["10", "4.5"]


def test_percentile_interpolates_linearly():
    values = [40, 10, 30, 20]
    assert m.percentile(values, 0.5) == 25.0  # position 1.5 between 20 and 30
    assert m.percentile(values, 0.95) == pytest.approx(38.5)  # position 2.85: 30 + 0.85 * 10
    assert m.percentile([7], 0.95) == 7
    assert m.percentile([], 0.5) is None


def test_confusion_matrix():
    matrix = m.confusion([("answer", "answer"), ("answer", "out_of_scope"), ("emergency", "answer")],
                         ["answer", "emergency", "out_of_scope"])
    assert matrix["answer"] == {"answer": 1, "emergency": 0, "out_of_scope": 1}
    assert matrix["emergency"]["answer"] == 1
    assert matrix["out_of_scope"] == {"answer": 0, "emergency": 0, "out_of_scope": 0}


# --- answer support -----------------------------------------------------------------------------
CHUNK = (
    "1. **Rest and Activity Modification**\n   - Reduce aggravating activities\n"
    "   - Cross-train with low-impact exercise\n2. **Ice and Medications**\n   - NSAIDs for pain relief"
)
TABLE = "| Symptom | Likely Cause |\n| --- | --- |\n| Burning + tingling + numbness | Tarsal tunnel syndrome |"
OWN = ["The article does not give doses. Ask a pharmacist.", "is listed as a likely cause of"]
FOOTER = "\n\n---\n\n**See a doctor if you have:**\n- Numbness or tingling\n\n_Not medical advice._"


def test_split_footer():
    body, footer = split_footer("**T** [1]\n- Rest" + FOOTER, ["Numbness or tingling"], "Not medical advice.")
    assert body == "**T** [1]\n- Rest"
    assert footer.lstrip().startswith("---") and footer.endswith("_Not medical advice._")
    # a red flag quoted in the body as well: the footer is its last appearance
    body, _ = split_footer("- Numbness or tingling [1]" + FOOTER, ["Numbness or tingling"], "Not medical advice.")
    assert body == "- Numbness or tingling [1]"


def test_answer_support_counts_content_lines_only():
    body = "\n".join([
        "**Treatment Options › For PTT/Tendon Problems** [1]",  # a label: skipped
        "- **Rest and Activity Modification**: Reduce aggravating activities; Cross-train with low-impact exercise",
        "- **Ice and Medications**: NSAIDs for pain relief",  # supported (joined parent: child)
        "- **Tarsal tunnel syndrome** is listed as a likely cause of: Burning + tingling + numbness [2]",
        "- Take them for 10 days",  # not in the cited text
        "",
        "The article does not give doses. Ask a pharmacist.",  # the bot's own phrase: skipped
    ])
    support = answer_support(body, [CHUNK, TABLE], OWN)
    assert (support.supported, support.lines) == (3, 4)
    assert support.value == 0.75
    assert support.unsupported == ("- Take them for 10 days",)


def test_answer_support_is_na_without_content_and_zero_without_citations():
    assert answer_support("The article does not give doses. Ask a pharmacist.", [], OWN).value is None
    assert answer_support("- NSAIDs for pain relief", [], OWN).value == 0.0


# --- aggregates and gates ----------------------------------------------------------------------
def _result(cid: str, expect: str, got: str, passed: bool, severity: str = "major", **values) -> CaseResult:
    case = Case(cid, "s", "in_scope", severity, expect, (("user", cid),))
    checks = [Check("kind", got == expect), Check("red_flags", True), Check("disclaimer", passed),
              Check("no_dose_amount", True), Check("no_invented_numbers", True)]
    return CaseResult(case, Outcome({"kind": got}, 10.0), got, checks, values, passed)


def test_summary_denominators_and_na():
    results = [
        _result("e1", "emergency", "emergency", True, "critical"),
        _result("e2", "emergency", "answer", False, "critical"),
        _result("a1", "answer", "emergency", False, **{"hit@5": 1.0, "mrr": 0.5}),
        _result("a2", "answer", "out_of_scope", False, **{"hit@5": 0.0, "mrr": 0.0}),
        _result("a3", "answer", "answer", True),
    ]
    stats = summarize(results, 5)
    assert (stats["emergency_recall"].numerator, stats["emergency_recall"].denominator) == (1, 2)
    assert (stats["false_alarm_rate"].numerator, stats["false_alarm_rate"].denominator) == (1, 3)
    assert stats["over_refusal_rate"].value == pytest.approx(1 / 3)
    assert stats["refusal_recall"].value is None and stats["refusal_recall"].denominator == 0
    assert stats["hit@5"].value == 0.5 and stats["hit@5"].denominator == 2
    assert stats["mrr"].value == 0.25 and stats["mrr"].show() == "0.250 (mean of 2)"
    assert stats["critical_failures"].show() == "1 of 2 cases"
    assert stats["disclaimer_present"].show() == "0.400 (2/5 cases)"
    assert stats["latency_p50_ms"].show() == "10.0 ms (n=5)"


def test_parse_gate():
    assert parse_gate("kind_accuracy>=0.9") == Gate("kind_accuracy", ">=", 0.9)
    assert parse_gate(" hit@5 > 0.95 ") == Gate("hit@5", ">", 0.95)
    with pytest.raises(ValueError, match="unknown metric 'kind_acuracy'"):
        parse_gate("kind_acuracy>=0.9")
    with pytest.raises(ValueError, match="METRIC>=VALUE"):
        parse_gate("kind_accuracy is high")


def test_evaluate_gate():
    stats = {"false_alarm_rate": Stat("false_alarm_rate", 0.1, 1, 10, "lower"),
             "refusal_recall": Stat("refusal_recall", None, 0, 0)}
    assert evaluate(parse_gate("false_alarm_rate<=0.1"), stats, "run").ok is True
    assert evaluate(parse_gate("false_alarm_rate<0.1"), stats, "run").ok is False
    skipped = evaluate(parse_gate("refusal_recall>=0.9"), stats, "run")
    assert skipped.ok is None and "N/A" in skipped.detail
    assert evaluate(parse_gate("mrr>=0.5"), stats, "run").ok is False  # not measured at all


def test_critical_gate_names_failed_cases():
    gate = critical_gate([_result("e1", "emergency", "answer", False, "critical"), _result("a", "answer", "x", False)])
    assert gate.ok is False and gate.detail == "e1" and gate.value == "0/1"
    assert critical_gate([_result("a", "answer", "answer", True)]).ok is True


# --- judging one case ------------------------------------------------------------------------
def _ctx():
    from chatbot.evals.judge import Context

    texts = {"tts": "1. Rest and Ice\n2. Orthotics to reduce nerve compression",
             "wsd": "- Persistent pain lasting more than 2-3 weeks"}
    return Context(texts, frozenset({"1", "2", "3"}), ("The article does not give doses.",), 5)


def _reply(body: str, citations=(), flags=("Persistent pain lasting more than 2-3 weeks",), disclaimer="Not advice."):
    footer = "\n".join(["**See a doctor if you have:**", *(f"- {f}" for f in flags)])
    return {"answer": f"{body}\n\n---\n\n{footer}\n\n_{disclaimer}_" if disclaimer else f"{body}\n\n---\n\n{footer}",
            "kind": "answer", "citations": list(citations), "red_flags": list(flags), "disclaimer": disclaimer}


TTS_CASE = Case("c", "s", "in_scope", "major", "answer", (("user", "how is tarsal tunnel treated"),),
                ("Treatment › TTS",), (("tts",),), (("orthotics",),), ("surgery",))
GOOD_CITE = {"n": 1, "id": "tts", "section": "Treatment Options › For Tarsal Tunnel Syndrome",
             "quote": "Orthotics to reduce nerve compression", "score": 0.8}


def _judge(reply, retrieved=("tts",), case=TTS_CASE):
    from chatbot.evals.judge import judge

    hits = [{"id": i, "section": i, "score": 0.5} for i in retrieved]
    return judge(case, Outcome(reply, 12.0, [], hits, "bot"), _ctx())


def _failed(result) -> dict[str, str]:
    return {c.name: c.detail for c in result.failed_checks()}


def test_a_good_answer_passes_every_check():
    result = _judge(_reply("**TTS** [1]\n- Orthotics to reduce nerve compression", [GOOD_CITE]))
    assert result.passed and _failed(result) == {}
    assert result.values["answer_support"] == 1.0 and result.values["hit@5"] == 1.0


def test_each_way_of_failing():
    cite = [GOOD_CITE]
    no_disclaimer = _judge(_reply("**TTS** [1]\n- Orthotics to reduce nerve compression", cite, disclaimer=""))
    assert set(_failed(no_disclaimer)) == {"disclaimer"}
    dose = _judge(_reply("**TTS** [1]\n- Orthotics to reduce nerve compression\n- Take 400 mg", cite))
    assert set(_failed(dose)) == {"no_dose_amount", "no_invented_numbers"}
    assert dose.values["answer_support"] == 0.5 and dose.notes == ["unsupported line: - Take 400 mg"]
    banned = _judge(_reply("**TTS** [1]\n- Orthotics to reduce nerve compression\n- Surgery", cite))
    assert _failed(banned) == {"must_not_include": "contains ['surgery']"}
    # "2-3 weeks" in the footer does not count for must_include: the body is judged
    weeks = Case("c", "s", "in_scope", "major", "answer", (("user", "q"),), (), (), (("2-3 weeks",),))
    footer_only = _judge(_reply("**TTS** [1]\n- Rest and Ice", [{**GOOD_CITE, "quote": "Rest and Ice"}]), case=weeks)
    assert "must_include" in _failed(footer_only)
    wrong_quote = _judge(_reply("**TTS** [1]\n- Orthotics", [{**GOOD_CITE, "quote": "Orthotics cure it"}]))
    assert _failed(wrong_quote) == {"citations_valid": "[1] quote is not in tts"}
    not_retrieved = _judge(_reply("**TTS** [1]\n- Orthotics to reduce nerve compression", cite), retrieved=("wsd",))
    assert set(_failed(not_retrieved)) == {"citations_valid"} and not_retrieved.values["hit@5"] == 0.0
    other = {**GOOD_CITE, "id": "wsd", "quote": "Persistent"}
    wrong_section = _judge(_reply("**When** [1]\n- Persistent pain", [other]), retrieved=("wsd",))
    assert "cites_expected" in _failed(wrong_section) and wrong_section.values["citation_precision"] == 0.0


def test_wrong_kind_and_no_reply():
    emergency = {**_reply("**Call now.**"), "kind": "emergency"}
    result = _judge(emergency)
    assert _failed(result)["kind"] == "expected answer, got emergency"
    assert result.values.get("citation_recall") == 0.0  # the expected section was not cited
    from chatbot.evals.judge import judge

    failed = judge(TTS_CASE, Outcome(None, None, [], None, "", error="HTTP 500"), _ctx())
    assert failed.got == "error" and _failed(failed) == {"reply": "HTTP 500"} and not failed.passed
