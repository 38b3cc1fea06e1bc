"""Query embedding speed: one question at a time, in batches, and through BatchingEmbedder.

    .venv/bin/python bench/embed_bench.py              # 3 s per row
    .venv/bin/python bench/embed_bench.py --seconds 10

Questions are the shipped evaluation questions, drawn at random, so lengths vary as they do
in use. Every row runs in this one process, one after the other, with one BLAS thread (as
app.py runs); compare rows with each other, not with another day's numbers. To compare two
versions of the encoder, run this script on each, alternating, and compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from chatbot.search.batching import BatchingEmbedder  # noqa: E402
from chatbot.search.embeddings import load_embedder  # noqa: E402


def questions() -> list[str]:
    found = []
    for path in sorted((ROOT / "evals" / "sets").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            if case.get("question"):
                found.append(case["question"])
    return found


def per_question_ms(embed, pool: list[str], batch: int, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        embed(random.sample(pool, batch))
        done += batch
    return 1000 * (time.perf_counter() - start) / done


def batching_ms(embedder, pool: list[str], clients: int, seconds: float) -> tuple[float, float]:
    """Many threads asking one question each at a time, as the server's request threads do."""
    sizes: list[int] = []
    inner_embed = embedder.embed

    def recording(texts):
        sizes.append(len(texts))
        return inner_embed(texts)

    embedder.embed = recording
    batching = BatchingEmbedder(embedder)
    stop, counts = time.perf_counter() + seconds, [0] * clients

    def client(n: int) -> None:
        while time.perf_counter() < stop:
            batching.embed([random.choice(pool)])
            counts[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    embedder.embed = inner_embed
    return 1000 * (time.perf_counter() - start) / sum(counts), statistics.mean(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    random.seed(args.seed)
    pool = questions()
    embedder = load_embedder()
    embedder.embed(["warm up"])
    lengths = [len(e.ids) for e in embedder.tokenizer.encode_batch(pool)]
    print(f"{len(pool)} questions, tokens median {statistics.median(lengths):.0f}, max {max(lengths)}")
    print(f"{'':34}{'ms per question':>16}")
    single = per_question_ms(embedder.embed, pool, 1, args.seconds)
    print(f"{'one at a time':34}{single:16.2f}")
    for batch in (4, 8, 16):
        ms = per_question_ms(embedder.embed, pool, batch, args.seconds)
        print(f"{f'batches of {batch}':34}{ms:16.2f}   x{single / ms:.2f}")
    ms, mean_batch = batching_ms(embedder, pool, 16, args.seconds)
    print(f"{'BatchingEmbedder, 16 threads':34}{ms:16.2f}   x{single / ms:.2f} (mean batch {mean_batch:.1f})")


if __name__ == "__main__":
    main()
