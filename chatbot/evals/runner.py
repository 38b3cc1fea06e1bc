"""Run question sets against the bot and write the reports: `chatbot eval SETS...`.

    chatbot eval evals/sets/*.yaml                       # in process, reports in evals/runs/<time>/
    chatbot eval evals/sets/*.yaml --out evals/runs/ci --gate "kind_accuracy>=0.9"
    chatbot eval evals/sets/core.yaml --baseline evals/runs/ci   # what changed since that run
    chatbot eval evals/sets/safety.yaml --url http://127.0.0.1:7860   # a running server

Exit code 0 when every gate holds, 1 when a gate fails (or on an error, with a message).
Sets are validated against the local index before anything runs; with --url the server is
assumed to serve the same article (its quotes are checked against the local index).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from chatbot.config import PROJECT_ROOT, Settings
from chatbot.evals import gates as g
from chatbot.evals.judge import CaseResult, Context, Outcome, judge
from chatbot.evals.sets import AUTO, Case, Suite, load_sets
from chatbot.evals.summary import GroupRow, Stat, confusion_matrix, group_rows, summarize, tag_groups
from chatbot.evals.targets import HttpTarget, InProcessTarget, Target
from chatbot.knowledge.chunks import Chunk

DEFAULT_K = 5  # the bot's default; used to name @k metrics when the bot is not in this process


@dataclass
class Run:
    started_at: str
    seconds: float
    target: str
    k: int
    fingerprint: dict
    config: dict
    suites: list[Suite]
    results: list[CaseResult]
    stats: dict[str, Stat]
    suite_stats: dict[str, dict[str, Stat]]
    category_stats: dict[str, dict[str, Stat]]
    categories: list[GroupRow]
    confusion: dict[str, dict[str, int]]
    gates: list[g.GateResult]
    comparison: dict | None = None
    index_manifest: dict = field(default_factory=dict)
    tag_stats: dict[str, dict[str, Stat]] = field(default_factory=dict)  # per "prefix:value" tag

    @property
    def passed(self) -> bool:
        return not g.failed(self.gates)


def fingerprint(manifest: dict, suites: Sequence[Suite]) -> dict:
    """What a run was measured against. Runs compare only when this is equal: the same article
    and index (corpus, model, chunking, chunk file) and the same set versions."""
    return {
        "index": {
            "corpus": manifest.get("corpus", {}).get("fingerprint"),
            "model": manifest.get("model", {}).get("id"),
            "model_fingerprint": manifest.get("model", {}).get("fingerprint"),
            "chunking": manifest.get("chunking"),
            "chunks_file": manifest.get("files", {}).get("chunks", {}).get("sha256"),
        },
        "sets": {s.name: s.version for s in suites},
    }


def send_case(target: Target, case: Case) -> Outcome:
    """Play the conversation up to the judged message ("auto" turns are asked for), then send it."""
    history: list[dict[str, str]] = []
    for i, (role, content) in enumerate(case.turns[:-1]):
        if role == "assistant" and content == AUTO:
            earlier = target.send(history[-1]["content"], history[:-1])
            if earlier.reply is None:
                return Outcome(None, None, history, error=f"conversation turn {i}: {earlier.error}")
            content = earlier.reply["answer"]
        history.append({"role": role, "content": content})
    return target.send(case.question, history, want_retrieval=bool(case.relevant))


def run_cases(
    target: Target, suites: Sequence[Suite], ctx: Context, progress: bool = True
) -> list[CaseResult]:
    cases = [case for suite in suites for case in suite.cases]
    bar = tqdm(cases, desc="eval", unit="case", disable=not progress, file=sys.stderr, leave=False)
    waiting = False

    def show_wait(seconds: float, reason: str) -> None:  # a server that asks us to wait: say so
        nonlocal waiting
        waiting = True
        bar.set_postfix_str(f"{reason}: waiting {seconds:g} s")

    if hasattr(target, "on_wait"):
        target.on_wait = show_wait
    results = []
    for case in bar:
        results.append(judge(case, send_case(target, case), ctx))
        if waiting:
            bar.set_postfix_str("", refresh=False)
            waiting = False
    return results


def evaluate(
    target: Target, suites: Sequence[Suite], chunks: Sequence[Chunk], manifest: dict, k: int,
    extra_gates: Sequence[str] = (), progress: bool = True, config: dict | None = None,
) -> Run:
    g.check_gate_metrics([*extra_gates, *(x for s in suites for x in s.gates)], k)
    started = datetime.now(UTC)
    results = run_cases(target, suites, Context.from_chunks(chunks, k, manifest), progress)
    seconds = (datetime.now(UTC) - started).total_seconds()
    stats = summarize(results, k)
    suite_stats = {s.name: summarize([r for r in results if r.case.suite == s.name], k) for s in suites}
    categories = group_rows(results, lambda r: r.case.category)
    category_stats = {row.name: summarize([r for r in results if r.case.category == row.name], k) for row in categories}
    gate_results = g.run_gates(results, {s.name: s.gates for s in suites}, suite_stats, extra_gates, stats)
    return Run(
        started_at=started.isoformat(timespec="seconds"), seconds=round(seconds, 2), target=target.name, k=k,
        fingerprint=fingerprint(manifest, suites),
        config={"target": target.name, "k": k, **(config or {}), "set_files": {s.name: s.sha256[:16] for s in suites}},
        suites=list(suites), results=results, stats=stats, suite_stats=suite_stats,
        category_stats=category_stats, categories=categories, confusion=confusion_matrix(results),
        gates=gate_results, index_manifest=manifest,
        tag_stats={tag: summarize(rs, k) for tag, rs in tag_groups(results).items()},
    )


def _applicable(suites: list[Suite]) -> list[Suite]:
    """The sets written for this corpus; the others are named, not run."""
    for suite in suites:
        if suite.skipped:
            print(f"skipped {suite.name}: {suite.skipped}")
        elif suite.skipped_cases:
            print(f"{suite.name}: {suite.skipped_cases} case(s) skipped, written for articles this corpus lacks")
    return [s for s in suites if not s.skipped]


def run_from_cli(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.evals import compare, report
    from chatbot.search.index import load_index

    # Validate the sets first (cheap): a typo in a set should not wait for the model to load.
    local = load_index(settings.index_dir)
    suites = _applicable(load_sets(args.sets, local.chunks))
    if not suites:
        print("No question set applies to this corpus; nothing was run.")
        return 0
    baseline = compare.load_report(args.baseline) if args.baseline else None
    if baseline is not None:
        compare.check_fingerprints(fingerprint(local.manifest, suites), baseline["fingerprint"], args.baseline)
    if args.url:
        target: Target = HttpTarget(args.url)
        chunks, manifest, k, config = local.chunks, local.manifest, DEFAULT_K, {}
    else:
        from chatbot.bot import Chatbot

        bot = Chatbot.from_settings(settings)
        target = InProcessTarget(bot)
        chunks, manifest, k = bot.index.chunks, bot.index.manifest, bot.k
        config = {"retrieval": asdict(bot.retriever.settings)}
    run = evaluate(target, suites, chunks, manifest, k, args.gate, not args.no_progress, config)
    waits, waited = getattr(target, "waits", 0), getattr(target, "waited", 0.0)
    if waits:
        print(f"The server asked to wait {waits} times ({waited:g} s in all); its replies were awaited, "
              "not counted as failures.", file=sys.stderr)
    if baseline is not None:
        run.comparison = compare.compare(report.to_json(run), baseline, str(args.baseline))
    out = args.out or PROJECT_ROOT / "evals" / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    report.write_all(run, Path(out))
    print(report.terminal(run, Path(out)))
    return 0 if run.passed else 1
