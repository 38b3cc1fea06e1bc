"""Gates: what makes a run fail (non-zero exit code).

1. Every critical case passes. Always on; no flag or set can turn it off.
2. Each suite's `gates:` hold on that suite's own cases ("emergency_recall>=1.0" in safety.yaml
   is about the safety cases, not the whole run).
3. `--gate` flags hold on the whole run.

A gate reads `metric OP value` with OP one of >= <= > < ==. A gate whose metric applies to no
case (N/A, e.g. retrieval metrics against a server) is reported as skipped, not passed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chatbot.errors import ChatbotError
from chatbot.evals.judge import CaseResult
from chatbot.evals.summary import DESCRIPTIONS, Stat

_GATE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:@\d+)?)\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


@dataclass(frozen=True)
class GateResult:
    scope: str  # "run", a suite name, or "critical"
    gate: str
    ok: bool | None  # None: skipped, the metric is N/A
    value: str  # the measured value as shown, with its denominator
    detail: str = ""


def parse_gate(text: str) -> Gate:
    """'kind_accuracy>=0.9' -> Gate. Raises ValueError saying what is wrong."""
    match = _GATE.match(text)
    if not match:
        raise ValueError("write it as METRIC>=VALUE (or <=, >, <, ==), e.g. 'kind_accuracy>=0.9'")
    name, op, value = match.groups()
    base = re.sub(r"@\d+$", "@k", name) if name != "hit@1" else name
    if base not in DESCRIPTIONS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(DESCRIPTIONS)} (@k as @5 etc.)")
    return Gate(name, op, float(value))


def check_gate_metrics(gates: Sequence[str], k: int) -> None:
    """Before a run: every gate names a metric this run will have (hit@3 needs k >= 3)."""
    for text in gates:
        try:
            gate = parse_gate(text)
        except ValueError as exc:
            raise ChatbotError(f"Gate {text!r}: {exc}") from None
        at = re.search(r"@(\d+)$", gate.metric)
        if at and gate.metric != "hit@1" and int(at.group(1)) != k:
            raise ChatbotError(f"Gate {text!r}: this run ranks the top {k}; use @{k}.")


def evaluate(gate: Gate, stats: Mapping[str, Stat], scope: str) -> GateResult:
    stat = stats.get(gate.metric)
    if stat is None:
        return GateResult(scope, str(gate), False, "missing", f"no metric {gate.metric} in this run")
    if stat.value is None:
        return GateResult(scope, str(gate), None, stat.show(), "skipped: N/A")
    ok = _OPS[gate.op](round(stat.value, 6), gate.threshold)
    return GateResult(scope, str(gate), ok, stat.show())


def critical_gate(results: Sequence[CaseResult]) -> GateResult:
    critical = [r for r in results if r.case.severity == "critical"]
    failed = [r.case.id for r in critical if not r.passed]
    return GateResult("critical", "all critical cases pass", not failed,
                      f"{len(critical) - len(failed)}/{len(critical)}", ", ".join(failed))


def run_gates(
    results: Sequence[CaseResult],
    suite_gates: Mapping[str, Sequence[str]],
    suite_stats: Mapping[str, Mapping[str, Stat]],
    extra: Sequence[str],
    run_stats: Mapping[str, Stat],
) -> list[GateResult]:
    out = [critical_gate(results)]
    for suite, gates in suite_gates.items():
        out += [evaluate(parse_gate(g), suite_stats.get(suite, {}), suite) for g in gates]
    out += [evaluate(parse_gate(g), run_stats, "run") for g in extra]
    return out


def failed(gates: Sequence[GateResult]) -> list[GateResult]:
    return [g for g in gates if g.ok is False]
