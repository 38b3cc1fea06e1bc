"""report.html: one self-contained page (inline CSS and SVG; no scripts, fonts or links to
fetch), built from the report.json data so it always shows the same numbers."""

from __future__ import annotations

import math
from html import escape

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:22px;margin:8px 0 4px}
h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
.meta{color:#5b6472;font-size:13px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:20px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 16px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:5px 8px;border-bottom:1px solid #e6e8ec;
text-align:left;vertical-align:top}th{background:#eef0f4;font-weight:600;font-size:13px}td.num,th.num{text-align:right}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.pass{background:#1f8a4c}.fail{background:#c62f2f}.skip{background:#8a8f98}.critical{background:#c62f2f}
.major{background:#d9822b}.minor{background:#8a8f98}.verdict{font-size:15px;padding:3px 12px}
.cm{width:auto}.cm td{text-align:center;min-width:90px}.small{font-size:12px;color:#5b6472}
td.id code{white-space:nowrap}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(104px,1fr));gap:8px;margin:14px 0 4px}
.kpi{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:8px 10px}
.kpi b{display:block;font-size:20px}.kpi span{font-size:12px;color:#5b6472}.kpi.bad{border-color:#c62f2f}
pre{white-space:pre-wrap;background:#f7f7f9;border:1px solid #e3e5ea;padding:8px;border-radius:6px;
font-size:12px;margin:6px 0}
details summary{cursor:pointer;color:#2c5aa0}.q{font-style:italic}code{font-size:12px}
.better{color:#1f8a4c;font-weight:600}.worse{color:#c62f2f;font-weight:600}
"""


def _e(value: object) -> str:
    return escape(str(value))


def _badge(ok: bool | None) -> str:
    word, cls = ("PASS", "pass") if ok else ("SKIP", "skip") if ok is None else ("FAIL", "fail")
    return f'<span class="badge {cls}">{word}</span>'


def _rate_color(rate: float) -> str:
    return "#1f8a4c" if rate >= 0.9 else "#d9822b" if rate >= 0.7 else "#c62f2f"


def category_chart(categories: list[dict]) -> str:
    rows = sorted(categories, key=lambda r: r["name"])
    width, bar_x, bar_w, row_h = 520, 110, 300, 26
    height = row_h * len(rows) + 24
    parts = [f'<svg role="img" aria-label="pass rate per category" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-size="12">']
    for i, r in enumerate(rows):
        y = 8 + i * row_h
        w, color, rate = bar_w * r["pass_rate"], _rate_color(r["pass_rate"]), r["pass_rate"]
        parts.append(f'<text x="{bar_x - 8}" y="{y + 14}" text-anchor="end">{_e(r["name"])}</text>'
                     f'<rect x="{bar_x}" y="{y}" width="{bar_w}" height="18" fill="#e6e8ec" rx="3"/>'
                     f'<rect x="{bar_x}" y="{y}" width="{w:.1f}" height="18" fill="{color}" rx="3"/>'
                     f'<text x="{bar_x + bar_w + 8}" y="{y + 14}">{r["passed"]}/{r["cases"]} ({rate:.0%})</text>')
    parts.append("</svg>")
    return "".join(parts)


def latency_chart(latencies: list[float], p50: float | None, p95: float | None) -> str:
    if not latencies:
        return '<p class="small">No latencies (no replies).</p>'
    width, height, left, top_pad, bottom, bins = 520, 210, 44, 30, 34, 20
    # A few slow outliers would squeeze every other bar into one: the last bar collects
    # everything from twice the p95 up, and says so.
    span = max(min(max(latencies), 2 * (p95 or max(latencies))), 1e-9)
    step = span / bins
    counts = [0] * bins
    for v in latencies:
        counts[min(int(v / step), bins - 1)] += 1
    overflow = sum(1 for v in latencies if v >= span) if span < max(latencies) else 0
    peak = max(counts)
    plot_w, plot_h = width - left - 16, height - bottom - top_pad
    base = top_pad + plot_h
    bar = plot_w / bins
    parts = [f'<svg role="img" aria-label="latency histogram" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-size="11">',
             f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#888"/>',
             f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{base}" text-anchor="end">0</text>',
             f'<text x="12" y="{top_pad + plot_h / 2:.0f}" transform="rotate(-90 12 {top_pad + plot_h / 2:.0f})" '
             'text-anchor="middle">replies</text>']
    for i, n in enumerate(counts):
        h = plot_h * n / peak if peak else 0
        last = i == bins - 1 and overflow
        tip = f"≥ {i * step:.0f} ms: {n}" if last else f"{i * step:.0f}-{(i + 1) * step:.0f} ms: {n}"
        parts.append(f'<rect x="{left + i * bar + 1:.1f}" y="{base - h:.1f}" width="{bar - 2:.1f}" '
                     f'height="{h:.1f}" fill="{"#9bb5dd" if last else "#5b8bd0"}"><title>{tip}</title></rect>')
    legend_x = left
    for label, value, color in (("p50", p50, "#1f8a4c"), ("p95", p95, "#c62f2f")):
        if value is not None:
            x = left + plot_w * min(value / span, 1)
            parts.append(f'<line x1="{x:.1f}" y1="{top_pad - 4}" x2="{x:.1f}" y2="{base}" stroke="{color}" '
                         'stroke-dasharray="4 3"/>'
                         f'<text x="{legend_x}" y="14" fill="{color}">— {label} {value:.0f} ms</text>')
            legend_x += 110
    for frac, anchor in ((0, "start"), (0.5, "middle"), (1, "end")):
        x = left + plot_w * frac
        label = f"{span * frac:.0f} ms" + (" +" if frac == 1 and overflow else "")
        parts.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">{label}</text>')
    if overflow:
        parts.append(f'<text x="{left + plot_w}" y="14" text-anchor="end" fill="#5b6472">'
                     f'{overflow} slower than {span:.0f} ms in the last bar</text>')
    parts.append("</svg>")
    return "".join(parts)


def confusion_table(matrix: dict[str, dict[str, int]]) -> str:
    labels = list(matrix)
    peak = max([1] + [n for row in matrix.values() for n in row.values()])
    head = "".join(f"<th>{_e(x)}</th>" for x in labels)
    rows = []
    for e in labels:
        cells = []
        for got in labels:
            n = matrix[e][got]
            alpha = 0.12 + 0.6 * math.sqrt(n / peak) if n else 0
            color = f"rgba(31,138,76,{alpha:.2f})" if e == got else f"rgba(198,47,47,{alpha:.2f})"
            cells.append(f'<td style="background:{color}">{n}</td>')
        rows.append(f"<tr><th>{_e(e)}</th>{''.join(cells)}</tr>")
    return (f'<table class="cm"><tr><th>expected ↓ / got →</th>{head}</tr>{"".join(rows)}</table>')


def _reply_details(case: dict) -> str:
    reply = case.get("reply") or {}
    parts = []
    if case.get("history"):
        convo = "\n\n".join(f"{t['role']}: {t['content']}" for t in case["history"])
        parts.append(f"<div class='small'>conversation before the judged message</div><pre>{_e(convo)}</pre>")
    parts.append(f"<div class='small'>answer</div><pre>{_e(reply.get('answer', case.get('error', '')))}</pre>")
    if reply.get("citations"):
        cites = "\n".join(f"[{c['n']}] {c['section']}" for c in reply["citations"])
        parts.append(f"<div class='small'>citations</div><pre>{_e(cites)}</pre>")
    if case.get("retrieved"):
        hits = "\n".join(f"{h['score']:.3f}  {h['section']}" for h in case["retrieved"])
        parts.append(f"<div class='small'>retrieved ({_e(case['retrieval_source'])})</div><pre>{_e(hits)}</pre>")
    if case.get("findings"):
        parts.append(f"<div class='small'>findings</div><pre>{_e(chr(10).join(case['findings']))}</pre>")
    return f"<details><summary>reply</summary>{''.join(parts)}</details>"


def failed_table(cases: list[dict]) -> str:
    failed = sorted((c for c in cases if not c["passed"]),
                    key=lambda c: ({"critical": 0, "major": 1}.get(c["severity"], 2), c["category"], c["id"]))
    if not failed:
        return "<p>No failed cases.</p>"
    rows = []
    for c in failed:
        checks = "<br>".join(f"<b>{_e(x['name'])}</b>: {_e(x['detail'])}" for x in c["checks"] if x["ok"] is False)
        rows.append(
            f"<tr><td class='id'><code>{_e(c['id'])}</code>"
            f"<div class='small'>{_e(c['suite'])} · {_e(c['category'])}</div></td>"
            f"<td><span class='badge {_e(c['severity'])}'>{_e(c['severity'])}</span></td>"
            f"<td class='q'>{_e(c['question'])}</td><td>{_e(c['expect'])} → <b>{_e(c['got'])}</b></td>"
            f"<td>{checks}{_reply_details(c)}</td></tr>")
    return ("<table><tr><th>case</th><th>severity</th><th>question</th><th>kind</th><th>what failed</th></tr>"
            + "".join(rows) + "</table>")


def _metrics_table(stats: dict) -> str:
    rows = "".join(f"<tr><td><code>{_e(n)}</code></td><td class='num'>{_e(s['shown'])}</td>"
                   f"<td class='small'>{_e(s['description'])}</td></tr>" for n, s in stats.items())
    return f"<table><tr><th>metric</th><th class='num'>value (denominator)</th><th>what it is</th></tr>{rows}</table>"


def _comparison(comp: dict | None) -> str:
    if not comp:
        return ""
    flips = "".join(f"<li><span class='worse'>pass→fail</span> <code>{_e(x['id'])}</code> ({_e(x['before'])} → "
                    f"{_e(x['now'])}; now fails {_e(', '.join(x['failed_checks']))})</li>" for x in comp["to_fail"])
    flips += "".join(f"<li><span class='better'>fail→pass</span> <code>{_e(x['id'])}</code> ({_e(x['before'])} → "
                     f"{_e(x['now'])})</li>" for x in comp["to_pass"])
    rows = "".join(f"<tr><td><code>{_e(m['name'])}</code></td><td class='num'>{_e(m['baseline_shown'])}</td>"
                   f"<td class='num'>{_e(m['current_shown'])}</td>"
                   f"<td class='{_e(m['movement'])}'>{_e(m['movement'])}</td></tr>"
                   for m in comp["metrics"])
    changes = "; ".join(comp["config_changes"]) or "none"
    return (f"<h2>Compared with the baseline</h2><p class='meta'>{_e(comp['baseline'])} (started "
            f"{_e(comp['baseline_started_at'])}); {comp['compared_cases']} cases compared. "
            f"Config changes: {_e(changes)}</p>"
            f"<ul>{flips or '<li>No case changed between pass and fail.</li>'}</ul>"
            "<table><tr><th>metric</th><th class='num'>baseline</th><th class='num'>now</th><th>movement</th></tr>"
            f"{rows}</table>")


def _all_cases(cases: list[dict]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(c['id'])}</code></td><td>{_e(c['category'])}</td><td>{_badge(c['passed'])}</td>"
        f"<td>{_e(c['expect'])} → {_e(c['got'])}</td><td class='num'>{_e(c['latency_ms'])}</td>"
        f"<td class='q'>{_e(c['question'])}</td></tr>" for c in cases)
    return (f"<details><summary>All {len(cases)} cases</summary><table><tr><th>case</th><th>category</th>"
            f"<th>result</th><th>kind</th><th class='num'>ms</th><th>question</th></tr>{rows}</table></details>")


_KEY_METRICS = ("pass_rate", "critical_failures", "kind_accuracy", "emergency_recall", "false_alarm_rate",
                "refusal_recall", "hit@5", "mrr", "citation_validity", "latency_p95_ms")


def _cards(stats: dict) -> str:
    """The numbers a reader looks for first, each with its denominator."""
    cards = []
    for name in _KEY_METRICS:
        stat = stats.get(name)
        if stat is None:
            continue
        value = stat["value"]
        big = ("N/A" if value is None else f"{value:.0f} ms" if stat["unit"] == "ms"
               else f"{value:.0f}" if stat["unit"] == "count" else f"{value:.3f}" if stat["unit"] == "mean"
               else f"{value:.1%}")
        small = stat["shown"].split("(", 1)[-1].rstrip(")") if "(" in stat["shown"] else stat["shown"]
        bad = name == "critical_failures" and value
        label = name.replace("_ms", "").replace("_", " ")
        cards.append(f"<div class='kpi{' bad' if bad else ''}' title='{_e(name)}'><span>{_e(label)}</span>"
                     f"<b>{_e(big)}</b><span>{_e(small)}</span></div>")
    return f"<div class='cards'>{''.join(cards)}</div>"


def _gates(gates: list[dict]) -> str:
    """Failed and skipped gates first and always shown; the passing ones folded away."""
    def row(g: dict) -> str:
        return (f"<tr><td>{_badge(g['ok'])}</td><td>{_e(g['scope'])}</td><td><code>{_e(g['gate'])}</code></td>"
                f"<td class='num'>{_e(g['value'])}</td><td class='small'>{_e(g['detail'])}</td></tr>")

    head = "<tr><th>result</th><th>scope</th><th>gate</th><th class='num'>value</th><th>detail</th></tr>"
    open_ = [g for g in gates if g["ok"] is not True]
    passed = [g for g in gates if g["ok"] is True]
    failed = sum(1 for g in gates if g["ok"] is False)
    out = f"<p class='meta'>{failed} failed, {len(passed)} passed, {len(open_) - failed} skipped.</p>"
    if open_:
        out += f"<table>{head}{''.join(row(g) for g in open_)}</table>"
    if passed:
        out += (f"<details><summary>{len(passed)} passing gates</summary>"
                f"<table>{head}{''.join(row(g) for g in passed)}</table></details>")
    return out


def render_html(data: dict) -> str:
    cases, run = data["cases"], data["metrics"]["run"]
    passed = sum(c["passed"] for c in cases)
    latencies = [c["latency_ms"] for c in cases if c["latency_ms"] is not None]
    sets = ", ".join(f"{s['name']} v{s['version']} ({s['cases']})" for s in data["sets"])
    fp = data["fingerprint"]["index"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation report · {_e(data['started_at'])}</title><style>{_CSS}</style></head>
<body><main>
<h1>Evaluation report {_badge(data['passed']).replace('badge ', 'badge verdict ')}</h1>
<p class="meta">{passed} of {len(cases)} cases passed · started {_e(data['started_at'])} · {data['seconds']} s ·
target {_e(data['target'])} · top k = {data['k']}<br>sets: {_e(sets)}<br>corpus {_e(str(fp['corpus'])[:16])} ·
model {_e(fp['model'])} · chunks file {_e(str(fp['chunks_file'])[:16])}</p>
{_cards(run)}
<h2>Gates</h2>{_gates(data['gates'])}
<div class="grid">
<div><h2>Pass rate by category</h2><div class="card">{category_chart(data['categories'])}</div></div>
<div><h2>Latency</h2><div class="card">{latency_chart(latencies, run['latency_p50_ms']['value'],
                                                          run['latency_p95_ms']['value'])}</div></div>
</div>
<h2>Reply kind: expected (rows) vs got (columns)</h2>{confusion_table(data['confusion'])}
<h2>Failed cases ({len(cases) - passed})</h2>{failed_table(cases)}
{_comparison(data.get('comparison'))}
<h2>Metrics (whole run)</h2>{_metrics_table(run)}
<h2>Cases</h2>{_all_cases(cases)}
</main></body></html>
"""
