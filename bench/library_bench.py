"""How cost grows with the library: corpora of 1, 10, 100 and 1,000 articles.

The articles are the test fixtures (tests/data/corpora: the seed article under several heading
conventions, split three ways, as prose, and a non-medical one) copied with new ids and
titles, so nothing medical is invented. For each size, in a fresh process:

- full build: chunk, embed, find topics and roles, save;
- rebuild after one article changed (one list item reworded): only its changed chunks are embedded;
- index size on disk;
- warm reply time (question embedding included), p50 and p95, over the core question set,
  after one untimed round;
- peak memory (RSS) of the process.

    .venv/bin/python bench/library_bench.py                 # 1, 10, 100 and 1000 articles
    .venv/bin/python bench/library_bench.py --sizes 1 10    # fewer
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "data" / "corpora"
SOURCES = ["seed", "split", "nhs-style", "mayo-style", "medlineplus-style", "prose", "bicycle"]


def make_library(folder: Path, size: int) -> list[Path]:
    """`size` articles: the fixtures' articles in turn, each with a new id and title."""
    articles = [p for name in SOURCES for p in sorted((FIXTURES / name).glob("*.md"))]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for n in range(size):
        source = articles[n % len(articles)]
        text = source.read_text(encoding="utf-8")
        tag = f"{n:04d}"
        text = re.sub(r"^(id: .+)$", rf"\1-{tag}", text, count=1, flags=re.M)
        text = re.sub(r'^(title: ".+)"$', rf'\1 ({tag})"', text, count=1, flags=re.M)
        text = re.sub(r"^(# .+)$", rf"\1 ({tag})", text, count=1, flags=re.M)
        path = folder / f"{source.stem}-{n:04d}.md"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def questions() -> list[str]:
    import yaml

    cases = yaml.safe_load((ROOT / "evals" / "sets" / "core.yaml").read_text(encoding="utf-8"))["cases"]
    return [c["question"] for c in cases if "question" in c]


def measure(size: int) -> dict:
    from chatbot.bot import Chatbot
    from chatbot.config import Settings, go_offline
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.search.embeddings import load_embedder
    from chatbot.search.index import load_index, save_index
    from chatbot.search.indexing import build_index

    go_offline()
    embedder = load_embedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        paths = make_library(corpus, size)
        started = time.perf_counter()
        index = build_index(load_corpus(corpus), embedder)
        save_index(index, index_dir)
        full = time.perf_counter() - started
        size_bytes = sum(p.stat().st_size for p in index_dir.iterdir())

        changed = paths[len(paths) // 2]
        text = changed.read_text(encoding="utf-8")
        changed.write_text(text.replace("- ", "- Often: ", 1), encoding="utf-8")
        started = time.perf_counter()
        rebuilt = build_index(load_corpus(corpus), embedder, previous=load_index(index_dir))
        save_index(rebuilt, index_dir)
        rebuild = time.perf_counter() - started

        bot = Chatbot(load_index(index_dir), embedder, settings=Settings(index_dir=index_dir, corpus_dir=corpus))
        asked = questions()
        for question in asked:  # untimed: lazy loads
            bot.reply(question)
        times = []
        for _ in range(3):
            for question in asked:
                bot.retriever.clear_cache()  # each reply embeds its question, as a new one would
                t0 = time.perf_counter()
                bot.reply(question)
                times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return {
            "articles": size, "chunks": len(rebuilt.chunks), "full_build_s": round(full, 2),
            "rebuild_one_s": round(rebuild, 2), "embedded_on_rebuild": rebuilt.manifest["embedded"]["chunks"],
            "index_mb": round(size_bytes / 1e6, 1), "reply_p50_ms": round(statistics.median(times), 1),
            "reply_p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    rows = []
    for size in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    base = rows[0]
    print("| articles | chunks | full build | rebuild after one change | index size | reply p50 / p95 | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = r["rebuild_one_s"] / r["full_build_s"] if r["full_build_s"] else 0
        print(f"| {r['articles']} | {r['chunks']} | {r['full_build_s']} s | {r['rebuild_one_s']} s ({share:.0%}, "
              f"{r['embedded_on_rebuild']} embedded) | {r['index_mb']} MB | {r['reply_p50_ms']} / "
              f"{r['reply_p95_ms']} ms ({r['reply_p50_ms'] / base['reply_p50_ms']:.2f}x) | {r['peak_rss_mb']} MB |")
    shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
