"""Triage: recall and false alarms on held-out examples, the threshold curve, and the latency it adds.

    .venv/bin/python bench/triage_bench.py            # everything
    .venv/bin/python bench/triage_bench.py --no-latency

1. The sign files' examples are split by stratum (each sign's fire, each sign's no_fire, the
   ordinary messages), a quarter held out (fixed seed). The detector is built from the rest
   exactly as it is for the app (held-out folds choose its thresholds) and scored on the
   held-out quarter: per sign, recall of the rules, of the detector and of both; false alarms
   on the held-out look-alikes. The rules were written with every example in view, so their
   held-out figures are not blind; the detector's are.
2. The same on `bench/data/triage_unseen.yaml`, written after the rules and never used to tune them.
3. The curve: one threshold for every sign, from low to high, detector alone and with the rules.
4. Leave one writer out: for each file of `rules/triage/vignettes/` (each written by another
   writer), the detector is built without it and scored on it: how the vignettes carry to a
   writer the detector has not read, at the shipped `Certainty` and at others.
5. Latency: the same questions answered by the bot with triage and with triage switched off,
   interleaved in one run; p50 and p95 per reply and the difference. Only questions triage lets
   through are timed (an escalated reply skips the search, which would flatter triage).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatbot.answer.triage import Certainty, Triage, TriageResult  # noqa: E402
from chatbot.answer.triage_model import Detector, build_detector, fingerprint_of  # noqa: E402
from chatbot.answer.triage_signs import Example, SignBook, read_vignettes  # noqa: E402
from chatbot.config import Settings, go_offline  # noqa: E402

HELD_OUT = 0.25
SEED = 0
CURVE = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def split(book: SignBook) -> tuple[SignBook, list[tuple[str, Example]], list[tuple[str, Example]]]:
    """The book with a quarter of each stratum removed, and the removed fire / no_fire examples."""
    rng = random.Random(SEED)
    held_fire, held_no = [], []

    def take(stratum: str, items: tuple[Example, ...], into: list) -> tuple[Example, ...]:
        order = list(range(len(items)))
        rng.shuffle(order)
        out = set(order[: round(len(items) * HELD_OUT)])
        into += [(stratum, items[i]) for i in sorted(out)]
        return tuple(e for i, e in enumerate(items) if i not in out)

    signs = tuple(
        replace(s, fire=take(s.id, s.fire, held_fire), no_fire=take(s.id, s.no_fire, held_no)) for s in book.signs
    )
    ordinary = take("ordinary", book.ordinary, held_no)
    return SignBook(signs, book.fingerprint + "-fit", ordinary, book.vignettes), held_fire, held_no


def rate(hit: int, total: int) -> str:
    return f"{hit}/{total} ({100 * hit / total:.1f}%)" if total else "0/0"


def evaluate(name: str, triage: Triage, fire: list[tuple[str, Example]], no_fire: list[tuple[str, Example]]) -> None:
    results = triage.run_many([(e.message, list(e.history)) for _, e in fire + no_fire])
    fire_results, no_results = results[: len(fire)], results[len(fire):]

    def by(result: TriageResult, who: str) -> bool:
        return any(who in h.by.split("+") for h in result.signs)

    print(f"\n## {name}: {len(fire)} must fire, {len(no_fire)} look-alikes")
    print(f"{'sign':28} {'rules':>14} {'detector':>14} {'either':>14} {'false alarms':>14}")
    rows: dict[str, list] = {}
    for (sign, _), result in zip(fire, fire_results, strict=True):
        rows.setdefault(sign, [0, 0, 0, 0, 0, 0])
        rows[sign][0] += by(result, "rules")
        rows[sign][1] += by(result, "detector")
        rows[sign][2] += result.escalated
        rows[sign][3] += 1
    for (sign, _), result in zip(no_fire, no_results, strict=True):
        rows.setdefault(sign, [0, 0, 0, 0, 0, 0])
        rows[sign][4] += result.escalated
        rows[sign][5] += 1
    for sign, (r, d, e, n, fa, m) in sorted(rows.items()):
        print(f"{sign:28} {rate(r, n):>14} {rate(d, n):>14} {rate(e, n):>14} {rate(fa, m):>14}")
    total = len(fire)
    print(f"{'all':28} {rate(sum(by(r, 'rules') for r in fire_results), total):>14} "
          f"{rate(sum(by(r, 'detector') for r in fire_results), total):>14} "
          f"{rate(sum(r.escalated for r in fire_results), total):>14} "
          f"{rate(sum(r.escalated for r in no_results), len(no_fire)):>14}")
    for (sign, example), result in zip(fire + no_fire, results, strict=True):
        expected = (sign, example) in fire
        if result.escalated != expected:
            found = ",".join(f"{h.id}:{h.by}" for h in result.signs) or "-"
            print(f"   {'MISS ' if expected else 'ALARM'} [{sign}] {example.message[:90]!r} -> {found}")


def curve(triage: Triage, fire: list[tuple[str, Example]], no_fire: list[tuple[str, Example]]) -> None:
    assert triage.detector is not None
    saved = triage.detector.thresholds.copy()
    print("\n## Threshold curve (one threshold for every sign), held-out examples")
    print(f"{'threshold':>9} {'detector recall':>18} {'detector false alarms':>22} {'with rules: recall':>19} "
          f"{'false alarms':>14}")
    for t in (*CURVE, None):
        triage.detector.thresholds = np.full_like(saved, t) if t is not None else saved
        results = triage.run_many([(e.message, list(e.history)) for _, e in fire + no_fire])
        f, n = results[: len(fire)], results[len(fire):]
        detected = [any("detector" in h.by for h in r.signs) for r in results]
        label = f"{t:.2f}" if t is not None else "per sign"
        print(f"{label:>9} {rate(sum(detected[: len(fire)]), len(fire)):>18} "
              f"{rate(sum(detected[len(fire):]), len(no_fire)):>22} {rate(sum(r.escalated for r in f), len(f)):>19} "
              f"{rate(sum(r.escalated for r in n), len(n)):>14}")
    triage.detector.thresholds = saved


def leave_one_writer_out(rules_only: Triage, embedder) -> None:
    book = rules_only.rules.book
    assert book.vignettes is not None, "no vignettes to hold out"
    root = ROOT / "chatbot" / "rules" / "triage" / "vignettes"
    sign_ids = {s.id for s in book.signs}
    print("\n## Leave one writer out (rules/triage/vignettes/), at several certainties (some/little/alone;"
          " 1.01: never)")
    levels = (Certainty(), Certainty(alone=1.01), Certainty(0.98, 0.98, 0.98), Certainty(0.95, 0.97, 0.97),
              Certainty(0.9, 0.95, 0.95))
    totals = {c: [0, 0, 0, 0] for c in levels}
    for path in sorted(root.glob("*.yaml")):
        held = read_vignettes([path], sign_ids)
        kept = read_vignettes([p for p in sorted(root.glob("*.yaml")) if p != path], sign_ids)
        fit_book = replace(book, vignettes=kept, fingerprint=f"{book.fingerprint}-without-{path.stem}")
        rules = type(rules_only.rules)(fit_book, rules_only.rules.context, rules_only.rules.speller.dictionary)
        detector = build_detector(rules, embedder, fingerprint_of("bench", path.stem))
        items = [(e.message, list(e.history)) for e in (*(e for _, e in held.fire), *held.no_fire)]
        for certainty in levels:
            results = Triage(rules_only.rules, detector, embedder, certainty).run_many(items)
            hit = sum(r.escalated for r in results[: len(held.fire)])
            alarms = sum(r.escalated for r in results[len(held.fire):])
            for i, value in enumerate((hit, len(held.fire), alarms, len(held.no_fire))):
                totals[certainty][i] += value
            print(f"{path.stem:10} {certainty.some:.3f}/{certainty.little:.3f}/{certainty.alone:.3f}: "
                  f"recall {rate(hit, len(held.fire)):>16}   false alarms {rate(alarms, len(held.no_fire)):>14}")
    for c, (hit, n, alarms, m) in totals.items():
        print(f"{'all':10} {c.some:.3f}/{c.little:.3f}/{c.alone:.3f}: recall {rate(hit, n):>16}   "
              f"false alarms {rate(alarms, m):>14}")


def unseen() -> tuple[list[tuple[str, Example]], list[tuple[str, Example]]]:
    data = yaml.safe_load((ROOT / "bench" / "data" / "triage_unseen.yaml").read_text(encoding="utf-8"))
    fire = [(item["sign"], Example(item["message"])) for item in data["fire"]]
    return fire, [("unseen", Example(message)) for message in data["no_fire"]]


def latency(settings: Settings, questions: list[str]) -> None:
    from chatbot.bot import Chatbot

    bot = Chatbot.from_settings(settings)
    off = Chatbot(bot.index, bot.retriever.embedder.embedder, triage=Triage(bot.triage.rules))
    off.triage.run_many = lambda items: [TriageResult(None) for _ in items]  # triage switched off
    questions = [q for q, r in zip(questions, bot.triage.run_many([(q, None) for q in questions]), strict=True)
                 if not r.escalated]
    for q in questions[:5]:
        bot.reply(q), off.reply(q)
    timings: dict[str, list[float]] = {"with triage": [], "without": []}
    for q in questions:
        for name, b in (("with triage", bot), ("without", off)):
            b.retriever._cache.clear()  # each reply embeds its question, as a new question would
            b.retriever.embedder._vectors.clear()
            started = time.perf_counter()
            b.reply(q)
            timings[name].append(1000 * (time.perf_counter() - started))
    print(f"\n## Latency per reply, {len(questions)} questions, interleaved, embedding caches cleared per reply")
    for name, values in timings.items():
        p = np.percentile(values, [50, 95])
        print(f"{name:12} p50 {p[0]:7.1f} ms   p95 {p[1]:7.1f} ms")
    added = np.array(timings["with triage"]) - np.array(timings["without"])
    print(f"{'added':12} p50 {np.percentile(added, 50):7.1f} ms   p95 {np.percentile(added, 95):7.1f} ms "
          f"(median ratio {statistics.median(np.array(timings['with triage']) / np.array(timings['without'])):.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-writers", action="store_true", help="skip leaving each writer out (slow)")
    args = parser.parse_args()
    go_offline()
    from chatbot.search.embeddings import load_embedder
    from chatbot.search.indexing import open_index

    settings = Settings.load()
    embedder = load_embedder(settings.model_path, settings.embedder)
    # the latency part answers from the index
    open_index(settings.index_dir, settings.corpus_dir, embedder, settings.max_chunk_tokens, rebuild=True)
    rules_only = Triage.build(embedder, learned=False)
    fit_book, held_fire, held_no = split(rules_only.rules.book)
    rules = type(rules_only.rules)(fit_book, rules_only.rules.context, rules_only.rules.speller.dictionary)
    started = time.perf_counter()
    detector: Detector = build_detector(rules, embedder, fingerprint_of("bench"))
    print(f"Detector built on {len(fit_book.signs)} signs' fit split in {time.perf_counter() - started:.1f} s "
          f"(cold, embeddings included); thresholds: "
          + ", ".join(f"{s}={t:.2f}" for s, t in zip(detector.sign_ids, detector.thresholds, strict=True)))
    triage = Triage(rules_only.rules, detector, embedder)
    evaluate("Held-out quarter of the examples", triage, held_fire, held_no)
    curve(triage, held_fire, held_no)
    evaluate("Unseen messages (bench/data/triage_unseen.yaml)", triage, *unseen())
    if not args.no_writers:
        leave_one_writer_out(rules_only, embedder)
    if not args.no_latency:
        _, no_fire = unseen()  # look-alikes and ordinary questions: short ones, stories, several questions
        latency(settings, [e.message for _, e in no_fire] + [e.message for e in rules_only.rules.book.look_alikes()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
