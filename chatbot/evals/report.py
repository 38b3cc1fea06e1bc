"""The run's reports: report.json (everything), report.md (summary), junit.xml (for CI),
report.html (see html.py), and the compact table printed in the terminal."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

from chatbot.evals.judge import CaseResult
from chatbot.evals.runner import Run
from chatbot.evals.summary import Stat, describe

SCHEMA = 1


def write_all(run: Run, folder: Path) -> None:
    from chatbot.evals.html import render_html

    folder.mkdir(parents=True, exist_ok=True)
    data = to_json(run)
    (folder / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    (folder / "report.md").write_text(markdown(data), encoding="utf-8")
    ET.ElementTree(junit(run)).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    (folder / "report.html").write_text(render_html(data), encoding="utf-8")


def stat_json(stat: Stat) -> dict:
    return {**asdict(stat), "shown": stat.show(), "description": describe(stat.name)[0]}


def case_json(r: CaseResult) -> dict:
    c = r.case
    return {
        "id": c.id, "suite": c.suite, "category": c.category, "severity": c.severity, "expect": c.expect,
        "got": r.got, "passed": r.passed, "question": c.question,
        "turns": [{"role": role, "content": content} for role, content in c.turns],
        "expected_sections": list(c.expected_sections), "must_include": [list(x) for x in c.must_include],
        "must_not_include": list(c.must_not_include), "notices": list(c.notices), "tags": list(c.tags),
        "notes": c.notes,
        "checks": [asdict(x) for x in r.checks],
        "failed_checks": [x.name for x in r.failed_checks()],
        "findings": r.notes, "values": r.values,
        "latency_ms": None if r.outcome.latency_ms is None else round(r.outcome.latency_ms, 2),
        "history": r.outcome.history, "reply": r.outcome.reply, "error": r.outcome.error,
        "retrieved": r.outcome.retrieved, "retrieval_source": r.outcome.retrieval_source,
    }


def to_json(run: Run) -> dict:
    return {
        "schema": SCHEMA, "started_at": run.started_at, "seconds": run.seconds, "target": run.target, "k": run.k,
        "passed": run.passed, "fingerprint": run.fingerprint, "config": run.config,
        "index_manifest": run.index_manifest,
        "sets": [{"name": s.name, "version": s.version, "description": s.description, "path": s.path,
                  "sha256": s.sha256, "gates": list(s.gates), "cases": len(s.cases)} for s in run.suites],
        "metrics": {
            "run": {n: stat_json(s) for n, s in run.stats.items()},
            "suites": {name: {n: stat_json(s) for n, s in stats.items()} for name, stats in run.suite_stats.items()},
            "categories": {name: {n: stat_json(s) for n, s in st.items()} for name, st in run.category_stats.items()},
            "tags": {name: {n: stat_json(s) for n, s in st.items()} for name, st in run.tag_stats.items()},
        },
        "categories": [{**asdict(row), "pass_rate": row.pass_rate} for row in run.categories],
        "confusion": run.confusion,
        "gates": [asdict(gate) for gate in run.gates],
        "cases": [case_json(r) for r in run.results],
        "comparison": run.comparison,
    }


def junit(run: Run) -> ET.Element:
    root = ET.Element("testsuites", name="chatbot eval", tests=str(len(run.results) + len(run.gates)),
                      failures=str(sum(not r.passed for r in run.results) + sum(g.ok is False for g in run.gates)),
                      time=f"{run.seconds:.2f}")
    for suite in run.suites:
        results = [r for r in run.results if r.case.suite == suite.name]
        element = ET.SubElement(root, "testsuite", name=suite.name, tests=str(len(results)),
                                failures=str(sum(not r.passed for r in results)),
                                time=f"{sum((r.outcome.latency_ms or 0) for r in results) / 1000:.3f}")
        for r in results:
            case = ET.SubElement(element, "testcase", classname=f"{suite.name}.{r.case.category}", name=r.case.id,
                                 time=f"{(r.outcome.latency_ms or 0) / 1000:.3f}")
            if not r.passed:
                failed = r.failed_checks()
                failure = ET.SubElement(case, "failure", type=r.case.severity,
                                        message=f"[{r.case.severity}] " + ", ".join(x.name for x in failed))
                failure.text = "\n".join([f"question: {r.case.question}", *(f"{x.name}: {x.detail}" for x in failed)])
    gates = ET.SubElement(root, "testsuite", name="gates", tests=str(len(run.gates)),
                          failures=str(sum(g.ok is False for g in run.gates)),
                          skipped=str(sum(g.ok is None for g in run.gates)))
    for gate in run.gates:
        case = ET.SubElement(gates, "testcase", classname=f"gates.{gate.scope}", name=gate.gate)
        if gate.ok is False:
            ET.SubElement(case, "failure", message=f"{gate.gate}: {gate.value}").text = gate.detail
        elif gate.ok is None:
            ET.SubElement(case, "skipped", message=gate.detail)
    return root


def _gate_word(ok: bool | None) -> str:
    return "PASS" if ok else "SKIP" if ok is None else "FAIL"


def terminal(run: Run, folder: Path) -> str:
    lines = [f"{'category':<14}{'cases':>6}{'passed':>8}{'rate':>8}{'critical failed':>17}"]
    for row in sorted(run.categories, key=lambda r: r.name):
        lines.append(f"{row.name:<14}{row.cases:>6}{row.passed:>8}{row.pass_rate:>8.1%}{row.critical_failed:>17}")
    total = len(run.results)
    passed = sum(r.passed for r in run.results)
    critical = sum(1 for r in run.results if not r.passed and r.case.severity == "critical")
    lines.append(f"{'all':<14}{total:>6}{passed:>8}{(passed / total if total else 0):>8.1%}{critical:>17}")
    lines += ["", "gates:"]
    scope_width = max(len(gate.scope) for gate in run.gates) + 1
    gate_width = max(len(gate.gate) for gate in run.gates) + 2
    for gate in run.gates:
        detail = f"  [{gate.detail}]" if gate.detail and gate.ok is not True else ""
        scope, text = f"{gate.scope:<{scope_width}}", f"{gate.gate:<{gate_width}}"
        lines.append(f"  {_gate_word(gate.ok)}  {scope}{text}{gate.value}{detail}")
    if run.comparison:
        c = run.comparison
        lines += ["", f"vs baseline {c['baseline']}: {len(c['to_fail'])} pass->fail, {len(c['to_pass'])} fail->pass"
                      f" of {c['compared_cases']} compared cases"]
        lines += [f"  pass->fail {x['id']} ({x['before']} -> {x['now']}; {', '.join(x['failed_checks'])})"
                  for x in c["to_fail"]]
        lines += [f"  fail->pass {x['id']} ({x['before']} -> {x['now']})" for x in c["to_pass"]]
        moved = [x for x in c["metrics"] if x["movement"] in ("better", "worse")]
        lines += [f"  {x['name']}: {x['baseline_shown']} -> {x['current_shown']} ({x['movement']})" for x in moved]
    verdict = "PASSED" if run.passed else f"FAILED ({sum(g.ok is False for g in run.gates)} gate(s))"
    lines += ["", f"{verdict} in {run.seconds:.1f} s. Reports: {folder}/report.html (.md, .json, junit.xml)"]
    return "\n".join(lines)


def markdown(data: dict) -> str:
    cases = data["cases"]
    passed = sum(c["passed"] for c in cases)
    out = [
        "# Evaluation report", "",
        f"- Started {data['started_at']}, {data['seconds']} s, target: {data['target']}",
        f"- Result: **{'PASSED' if data['passed'] else 'FAILED'}**: {passed}/{len(cases)} cases passed",
        "- Sets: " + ", ".join(f"{s['name']} v{s['version']} ({s['cases']} cases)" for s in data["sets"]),
        f"- Corpus {str(data['fingerprint']['index']['corpus'])[:12]}, model {data['fingerprint']['index']['model']}",
        "- What passing means and how each metric is computed: chatbot/evals/judge.py, support.py, summary.py",
        "", "## Gates", "", "| result | scope | gate | value | detail |", "|---|---|---|---|---|",
        *(f"| {_gate_word(g['ok'])} | {g['scope']} | `{g['gate']}` | {g['value']} | {g['detail']} |"
          for g in data["gates"]),
        "", "## By category", "", "| category | cases | passed | rate | critical failed |", "|---|---:|---:|---:|---:|",
        *(f"| {r['name']} | {r['cases']} | {r['passed']} | {r['pass_rate']:.1%} | {r['critical_failed']} |"
          for r in sorted(data["categories"], key=lambda r: r["name"])),
        *_tag_table(data["metrics"].get("tags", {})),
        "", "## Metrics (whole run)", "", "| metric | value (denominator) | what it is |", "|---|---|---|",
        *(f"| {n} | {s['shown']} | {s['description']} |" for n, s in data["metrics"]["run"].items()),
        "", "## Reply kind: expected (rows) vs got (columns)", "",
    ]
    labels = list(data["confusion"])
    out += ["| expected \\ got | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    out += [f"| {e} | " + " | ".join(str(data["confusion"][e][x]) for x in labels) + " |" for e in labels]
    failed = [c for c in cases if not c["passed"]]
    out += ["", f"## Failed cases ({len(failed)})", ""]
    for c in sorted(failed, key=lambda c: ({"critical": 0, "major": 1}.get(c["severity"], 2), c["id"])):
        details = "; ".join(f"{x['name']}: {x['detail']}" for x in c["checks"] if x["ok"] is False)
        out.append(f"- **{c['id']}** ({c['severity']}, {c['category']}): “{_one_line(c['question'])}” "
                   f"expected {c['expect']}, got {c['got']}. {details}")
    if data.get("comparison"):
        comp = data["comparison"]
        changes = "; ".join(comp["config_changes"]) or "none"
        out += ["", f"## Compared with {comp['baseline']}", "",
                f"{comp['compared_cases']} cases compared; config changes: {changes}", ""]
        out += [f"- pass→fail: **{x['id']}** ({x['before']} → {x['now']}; now fails {', '.join(x['failed_checks'])})"
                for x in comp["to_fail"]]
        out += [f"- fail→pass: **{x['id']}** ({x['before']} → {x['now']})" for x in comp["to_pass"]]
        out += ["", "| metric | baseline | now | movement |", "|---|---|---|---|"]
        out += [f"| {m['name']} | {m['baseline_shown']} | {m['current_shown']} | {m['movement']} |"
                for m in comp["metrics"]]
    return "\n".join(out) + "\n"


_TAG_COLUMNS = ("pass_rate", "escalation_recall", "false_alarm_rate", "notice_recall")


def _tag_table(tags: dict) -> list[str]:
    """Pass rate and the safety rates per "prefix:value" tag, with denominators."""
    if not tags:
        return []
    columns = [c for c in _TAG_COLUMNS if any(t[c]["value"] is not None for t in tags.values())]
    out = ["", "## By tag", "", "| tag | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    out += [f"| {name} | " + " | ".join(t[c]["shown"] if t[c]["value"] is not None else "" for c in columns) + " |"
            for name, t in tags.items()]
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())
