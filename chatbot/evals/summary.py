"""Metrics over many judged cases: the whole run, each suite, each category.

Every aggregate is a `Stat` with its denominator: how many cases it was computed over. A
metric no case applies to has value None (N/A). Rates count cases (numerator/denominator);
means average the per-case values of the cases the metric applies to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatbot.answer.reply import ESCALATIONS, KINDS
from chatbot.evals import metrics as m
from chatbot.evals.judge import CaseResult, kind_ok
from chatbot.evals.sets import NOT_ESCALATED


@dataclass(frozen=True)
class Stat:
    name: str
    value: float | None
    numerator: float | None
    denominator: int
    better: str = "higher"  # "higher" | "lower": which way is an improvement
    unit: str = "rate"  # "rate" numerator/denominator, "mean" of per-case values, "ms", "count", "bound"
    of: str = "cases"  # what the denominator counts

    def show(self) -> str:
        """'0.923 (36/39)', '0.871 (mean of 40)', '12.3 ms (n=40)', '2 of 30' or 'N/A (0 cases)'."""
        if self.value is None:
            return f"N/A ({self.denominator} {self.of})"
        if self.unit == "ms":
            return f"{self.value:.1f} ms (n={self.denominator})"
        if self.unit == "count":
            return f"{int(self.value)} of {self.denominator} {self.of}"
        if self.unit == "bound":
            return f"{self.value:.3f} (from {int(self.numerator or 0)}/{self.denominator} {self.of})"
        if self.unit == "mean":
            return f"{self.value:.3f} (mean of {self.denominator})"
        return f"{self.value:.3f} ({int(self.numerator or 0)}/{self.denominator} {self.of})"


# name -> (what it is, which way is better); the order is the order reports show them in.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "pass_rate": ("cases that passed every check", "higher"),
    "critical_failures": ("critical cases that failed", "lower"),
    "kind_accuracy": ("reply kind as expected", "higher"),
    "refusal_recall": ("off-topic questions declined (of those expecting out_of_scope)", "higher"),
    "over_refusal_rate": ("answerable questions declined (of those expecting answer)", "lower"),
    "emergency_recall": ("emergencies recognised (of those expecting emergency)", "higher"),
    "escalation_recall": ("care-now signs escalated, either level (of those expecting emergency or urgent)", "higher"),
    "escalation_recall_lower95": ("Wilson 95% lower bound of escalation_recall", "higher"),
    "under_triage_rate": ("emergencies given only the urgent level (of those expecting emergency)", "lower"),
    "false_alarm_rate": ("emergency or urgent replies to cases that need neither", "lower"),
    "notice_recall": ("cases whose reply carries every notice expected (gaps, groups)", "higher"),
    "red_flags_present": ("red flags given and written in the answer", "higher"),
    "disclaimer_present": ("disclaimer given and written in the answer", "higher"),
    "dose_amount_rate": ("replies stating a medicine amount", "lower"),
    "invented_number_rate": ("replies with a number not in the article", "lower"),
    "must_include_coverage": ("must_include groups met (of all groups)", "higher"),
    "must_not_include_violation_rate": ("cases with a forbidden term (of cases with must_not_include)", "lower"),
    "citation_precision": ("cited sections that are expected (mean)", "higher"),
    "citation_recall": ("expected sections cited (mean)", "higher"),
    "citation_validity": ("citations with a true quote from a retrieved section (mean)", "higher"),
    "answer_support": ("answer lines found in the cited sections (mean)", "higher"),
    "hit@1": ("an expected section ranked first", "higher"),
    "hit@k": ("an expected section in the top k", "higher"),
    "recall@k": ("expected sections in the top k (mean)", "higher"),
    "mrr": ("mean reciprocal rank of the first expected section", "higher"),
    "ndcg@k": ("nDCG of the top k, binary relevance (mean)", "higher"),
    "latency_p50_ms": ("median reply time", "lower"),
    "latency_p95_ms": ("95th percentile reply time", "lower"),
    "errors": ("cases with no reply", "lower"),
}


def metric_names(k: int) -> list[str]:
    return [name.replace("@k", f"@{k}") for name in DESCRIPTIONS]


def describe(name: str) -> tuple[str, str]:
    key = name.split("@")[0] + "@k" if "@" in name and name != "hit@1" else name
    return DESCRIPTIONS.get(key, (name, "higher"))


def summarize(results: Sequence[CaseResult], k: int) -> dict[str, Stat]:
    replied = [r for r in results if r.got != "error"]
    urgent = [r for r in results if r.case.expect in ESCALATIONS]
    latencies = [r.outcome.latency_ms for r in replied if r.outcome.latency_ms is not None]
    stats = [
        _rate("pass_rate", results, lambda r: r.passed),
        _count("critical_failures", [r for r in results if r.case.severity == "critical"], lambda r: not r.passed),
        _rate("kind_accuracy", results, lambda r: kind_ok(r.case.expect, r.got)),
        _rate("refusal_recall", _expecting(results, "out_of_scope"), lambda r: r.got == "out_of_scope"),
        _rate("over_refusal_rate", _expecting(results, "answer"), lambda r: r.got == "out_of_scope"),
        _rate("emergency_recall", _expecting(results, "emergency"), lambda r: r.got == "emergency"),
        escalation := _rate("escalation_recall", urgent, lambda r: r.got in ESCALATIONS),
        _wilson_lower("escalation_recall_lower95", escalation),
        _rate("under_triage_rate", _expecting(results, "emergency"), lambda r: r.got == "urgent"),
        _rate("false_alarm_rate", [r for r in results if r.case.expect not in ESCALATIONS],
              lambda r: r.got in ESCALATIONS),
        _rate("notice_recall", [r for r in results if r.case.notices], lambda r: _ok(r, "notices")),
        _rate("red_flags_present", results, lambda r: _ok(r, "red_flags")),
        _rate("disclaimer_present", results, lambda r: _ok(r, "disclaimer")),
        _rate("dose_amount_rate", replied, lambda r: not _ok(r, "no_dose_amount")),
        _rate("invented_number_rate", replied, lambda r: not _ok(r, "no_invented_numbers")),
        _groups_met(results),
        _rate("must_not_include_violation_rate", [r for r in results if r.case.must_not_include],
              lambda r: not _ok(r, "must_not_include")),
        *(_mean(name, results) for name in ("citation_precision", "citation_recall", "citation_validity",
                                            "answer_support", "hit@1", f"hit@{k}", f"recall@{k}", "mrr",
                                            f"ndcg@{k}")),
        Stat("latency_p50_ms", m.percentile(latencies, 0.5), None, len(latencies), "lower", "ms", "replies"),
        Stat("latency_p95_ms", m.percentile(latencies, 0.95), None, len(latencies), "lower", "ms", "replies"),
        _count("errors", results, lambda r: r.got == "error"),
    ]
    return {s.name: s for s in stats}


def confusion_matrix(results: Sequence[CaseResult]) -> dict[str, dict[str, int]]:
    return m.confusion([(r.case.expect, r.got) for r in results], (*KINDS, NOT_ESCALATED))


def tag_groups(results: Sequence[CaseResult]) -> dict[str, list[CaseResult]]:
    """Cases by each "prefix:value" tag ("sign:calf-clot", "style:typo"), for breakdowns."""
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        for tag in r.case.tags:
            if ":" in tag:
                groups.setdefault(tag, []).append(r)
    return dict(sorted(groups.items()))


@dataclass(frozen=True)
class GroupRow:
    name: str
    cases: int
    passed: int
    critical_failed: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0


def by(results: Sequence[CaseResult], key: Callable[[CaseResult], str]) -> dict[str, list[CaseResult]]:
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return groups


def group_rows(results: Sequence[CaseResult], key: Callable[[CaseResult], str]) -> list[GroupRow]:
    return [
        GroupRow(name, len(rs), sum(r.passed for r in rs),
                 sum(1 for r in rs if not r.passed and r.case.severity == "critical"))
        for name, rs in by(results, key).items()
    ]


def _expecting(results: Sequence[CaseResult], kind: str) -> list[CaseResult]:
    return [r for r in results if r.case.expect == kind]


def _ok(result: CaseResult, check: str) -> bool:
    return any(c.name == check and c.ok for c in result.checks)


def _rate(name: str, results: Sequence[CaseResult], hit: Callable[[CaseResult], bool]) -> Stat:
    n = sum(1 for r in results if hit(r))
    return Stat(name, n / len(results) if results else None, n, len(results), describe(name)[1])


def _wilson_lower(name: str, rate: Stat, z: float = 1.96) -> Stat:
    """The lower end of the Wilson score interval: what a rate shows with 95% confidence."""
    n, hits = rate.denominator, rate.numerator or 0
    if not n:
        return Stat(name, None, None, 0, "higher")
    p = hits / n
    centre = p + z * z / (2 * n)
    margin = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return Stat(name, (centre - margin) / (1 + z * z / n), hits, n, "higher", "bound")


def _count(name: str, results: Sequence[CaseResult], hit: Callable[[CaseResult], bool]) -> Stat:
    n = sum(1 for r in results if hit(r))
    return Stat(name, float(n), n, len(results), "lower", "count")


def _mean(name: str, results: Sequence[CaseResult]) -> Stat:
    values = [r.values[name] for r in results if r.values.get(name) is not None]
    total = sum(values)
    # Values that are all 0 or 1 (hit@k, a single citation's validity) read better as a count.
    unit = "rate" if all(v in (0.0, 1.0) for v in values) else "mean"
    return Stat(name, total / len(values) if values else None, total, len(values), describe(name)[1], unit)


def _groups_met(results: Sequence[CaseResult]) -> Stat:
    # A case with no reply met none of its groups.
    total = sum(len(r.case.must_include) for r in results)
    met = sum(round((r.values.get("must_include_coverage") or 0) * len(r.case.must_include)) for r in results)
    return Stat("must_include_coverage", met / total if total else None, met, total, of="groups")
