"""A run against a baseline run: which cases flipped, how each metric moved.

Two runs compare only when their fingerprints are equal (same corpus, model, chunking, chunk
file and set versions): otherwise a change in the numbers could come from the data instead of
the bot, so the comparison is refused with the differences named. What may differ is the bot
itself: its code, rules or retrieval settings (settings changes are listed as config changes).
A set edited without a version bump shows as a changed file hash in the config changes, and
cases in only one run are listed, not compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError


def load_report(run_dir: Path) -> dict:
    path = Path(run_dir) / "report.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChatbotError(f"No report.json in {run_dir}: give the folder of an earlier `chatbot eval` run.") from None
    except (OSError, ValueError) as exc:
        raise ChatbotError(f"Cannot read {path}: {exc}") from None


def differences(current: Any, baseline: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two fingerprints differ, with both values."""
    if isinstance(current, dict) and isinstance(baseline, dict):
        out = []
        for key in sorted(set(current) | set(baseline), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in baseline:
                out.append(f"{path}: only in this run ({_short(current[key])})")
            elif key not in current:
                out.append(f"{path}: only in the baseline ({_short(baseline[key])})")
            else:
                out += differences(current[key], baseline[key], path)
        return out
    return [] if current == baseline else [f"{prefix}: baseline {_short(baseline)}, this run {_short(current)}"]


def check_fingerprints(current: dict, baseline: dict, where: Path | str) -> None:
    diff = differences(current, baseline)
    if diff:
        raise ChatbotError(
            f"Cannot compare with the baseline in {where}: the runs were measured against different data "
            f"({'; '.join(diff)}). Compare runs made with the same index and the same set versions."
        )


def compare(current: dict, baseline: dict, where: str) -> dict:
    check_fingerprints(current["fingerprint"], baseline["fingerprint"], where)
    now = {c["id"]: c for c in current["cases"]}
    before = {c["id"]: c for c in baseline["cases"]}
    common = [cid for cid in now if cid in before]

    def flip(cid: str) -> dict:
        return {"id": cid, "category": now[cid]["category"], "severity": now[cid]["severity"],
                "before": before[cid]["got"], "now": now[cid]["got"], "failed_checks": now[cid]["failed_checks"]}

    metrics = []
    for name, stat in current["metrics"]["run"].items():
        old = baseline["metrics"]["run"].get(name)
        if old is None:
            continue
        metrics.append({
            "name": name, "baseline": old["value"], "current": stat["value"],
            "baseline_shown": old["shown"], "current_shown": stat["shown"],
            "delta": None if old["value"] is None or stat["value"] is None else stat["value"] - old["value"],
            "movement": _movement(old["value"], stat["value"], stat["better"], stat["unit"] == "ms"),
        })
    return {
        "baseline": where,
        "baseline_started_at": baseline.get("started_at"),
        "config_changes": differences(current.get("config", {}), baseline.get("config", {})),
        "compared_cases": len(common),
        "to_fail": [flip(cid) for cid in common if before[cid]["passed"] and not now[cid]["passed"]],
        "to_pass": [flip(cid) for cid in common if not before[cid]["passed"] and now[cid]["passed"]],
        "kind_changed": [flip(cid) for cid in common if before[cid]["got"] != now[cid]["got"]],
        "only_in_current": sorted(set(now) - set(before)),
        "only_in_baseline": sorted(set(before) - set(now)),
        "metrics": metrics,
    }


def _movement(old: float | None, new: float | None, better: str, timing: bool = False) -> str:
    if old is None or new is None:
        return "n/a" if old is None and new is None else "appeared" if old is None else "disappeared"
    # Timings wobble from run to run: under 10% (or 1 ms) is noise, not a change.
    noise = max(1.0, 0.1 * abs(old)) if timing else 1e-9
    if abs(new - old) < noise:
        return "same"
    return "better" if (new > old) == (better == "higher") else "worse"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:12] + "…" + text[-6:]
