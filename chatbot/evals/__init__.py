"""Offline evaluation: question sets, a runner, metrics, gates and reports.

    sets.py     load and validate YAML question sets (evals/sets/*.yaml)
    metrics.py  pure metric functions (retrieval, citations, text checks, numbers, latency)
    support.py  answer support: the share of an answer's lines found in the cited sections
    judge.py    one case: its checks (what "passes" means) and per-case metric values
    summary.py  metrics over many cases, per suite and per category, with denominators
    gates.py    "metric>=value" thresholds and the critical-case rule
    targets.py  where replies come from: the bot in this process, or a server over HTTP
    runner.py   run the cases, write the reports, print the table; `chatbot eval`
    compare.py  a run against a baseline run (same fingerprint only)
    report.py   report.json, report.md, junit.xml and the terminal table
    html.py     the self-contained report.html

Nothing here needs a language model or the network (except `--url`, which talks to a server).
"""
