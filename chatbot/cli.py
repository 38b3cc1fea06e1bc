"""The `chatbot` command (also `python -m chatbot`).

Examples::

    chatbot index build                 # (re)build index/ from corpus/
    chatbot index build --if-stale      # only when the corpus, model or chunking changed
    chatbot index status                # what the index was built from, and whether it is current
    chatbot index status --sections     # every section with its role and topic
    chatbot index build --gate evals/sets/core.yaml   # publish only if the set passes
    chatbot search "burning in my sole at night" -k 3
    chatbot search "heel pain treatment" --json
    chatbot ask "what can i do at home?"
    chatbot ask "and how long does it take?" --history conversation.json --json
    chatbot chat                        # talk in the terminal
    chatbot eval evals/sets/core.yaml --out evals/runs/today
    chatbot admin hash-secret           # the value for CHATBOT_ADMIN_SECRET_HASH

Settings come from `CHATBOT_*` environment variables (see README); flags override them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from chatbot.config import Settings, go_offline
from chatbot.errors import ChatbotError


def main(argv: list[str] | None = None) -> int:
    go_offline()
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args, _settings(args)) or 0)
    except ChatbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `chatbot search ... | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatbot", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/)")
    parser.add_argument("--index", type=Path, help="index folder (default: index/)")
    parser.add_argument("--model", type=Path, help="embedding model folder (default: the bundled all-MiniLM-L6-v2)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(title="commands")

    index_parser = commands.add_parser("index", help="build or inspect the search index")
    index = index_parser.add_subparsers(title="index commands")
    build = index.add_parser("build", help="build index/ from the corpus")
    build.add_argument("--if-stale", action="store_true", help="do nothing when the index is current")
    build.add_argument("--backend", choices=["auto", "numpy", "sentence-transformers"], help="embedding backend")
    build.add_argument("--gate", action="append", default=[], type=Path, metavar="SET",
                       help="publish the new index only if this question set passes its gates (repeatable)")
    build.set_defaults(run=_index_build)
    status = index.add_parser("status", help="show the index manifest and whether it is current")
    status.add_argument("--sections", action="store_true", help="list every section with its role and topic")
    status.set_defaults(run=_index_status)

    search = commands.add_parser("search", help="print the sections that best match a question")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=5, help="how many sections (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=_search)

    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--history", type=Path, help='JSON file: [{"role": "user"|"assistant", "content": "..."}]')
    ask.add_argument("--json", action="store_true", help="print the reply as JSON")
    ask.set_defaults(run=_ask)

    chat = commands.add_parser("chat", help="talk with the bot in the terminal")
    chat.set_defaults(run=_chat)

    evaluate = commands.add_parser("eval", help="run evaluation question sets")
    evaluate.add_argument("sets", nargs="+", type=Path, help="YAML question sets")
    evaluate.add_argument("--out", type=Path, help="report folder (default: evals/runs/<time>)")
    evaluate.add_argument("--baseline", type=Path, help="an earlier run folder to compare with")
    evaluate.add_argument("--url", help="evaluate a running server (e.g. http://127.0.0.1:7860) instead")
    evaluate.add_argument("--gate", action="append", default=[], metavar="METRIC>=VALUE",
                          help="extra gate, e.g. 'kind_accuracy>=0.95' (repeatable)")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=_eval)
    admin_parser = commands.add_parser("admin", help="the admin area at /admin")
    admin = admin_parser.add_subparsers(title="admin commands")
    hash_secret = admin.add_parser("hash-secret", help="read a secret (twice at a terminal), print its hash")
    hash_secret.set_defaults(run=_hash_secret)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.load()
    changes: dict[str, Any] = {}
    for flag, name in (("corpus", "corpus_dir"), ("index", "index_dir"), ("model", "model_path")):
        if getattr(args, flag, None) is not None:
            changes[name] = getattr(args, flag)
    if getattr(args, "backend", None):
        changes["embedder"] = args.backend
    return settings.with_(**changes)


def _index_build(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.errors import IndexProblem
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.search.embeddings import load_embedder
    from chatbot.search.index import load_index, save_index
    from chatbot.search.indexing import build_index, check_current

    embedder = load_embedder(settings.model_path, settings.embedder)
    documents = load_corpus(settings.corpus_dir)
    if args.if_stale:
        try:
            index = load_index(settings.index_dir)
            check_current(index, documents, embedder, settings.max_chunk_tokens)
            print(f"Index in {settings.index_dir} is current.")
            _triage_build(embedder, settings)
            return 0
        except IndexProblem as problem:
            print(str(problem).split(" Run `")[0], "Rebuilding.")
    started = time.perf_counter()
    try:
        previous = load_index(settings.index_dir)  # unchanged chunks keep their vectors
    except IndexProblem:
        previous = None
    index = build_index(documents, embedder, settings.max_chunk_tokens, progress=sys.stderr.isatty(),
                        previous=previous)
    if args.gate and not _passes_gates(index, embedder, settings, args.gate):
        print(f"Not published: the index in {settings.index_dir} is unchanged.", file=sys.stderr)
        return 1
    save_index(index, settings.index_dir)
    embedded = index.manifest["embedded"]
    print(
        f"Built {settings.index_dir}: {len(index.chunks)} chunks from {len(documents)} document(s) "
        f"({embedded['chunks']} embedded, {embedded['reused']} unchanged), model {embedder.model_id}, "
        f"in {time.perf_counter() - started:.1f} s."
    )
    _triage_build(embedder, settings)
    return 0


def _triage_build(embedder, settings: Settings) -> None:
    """The triage detector lives next to the index: built here when missing or stale."""
    from chatbot.answer.triage import Triage

    started = time.perf_counter()
    triage = Triage.build(embedder, cache_dir=settings.index_dir / "triage")
    assert triage.detector is not None
    built = triage.detector.manifest.get("build_seconds")
    state = f"built in {time.perf_counter() - started:.1f} s" if time.perf_counter() - started > 1 else "current"
    print(f"Triage detector in {settings.index_dir / 'triage'}: {state} "
          f"({len(triage.signs)} signs{f', last build {built} s' if built else ''}).")


def _passes_gates(index: Any, embedder: Any, settings: Settings, sets: list[Path]) -> bool:
    """Run question sets against a built index before it is published."""
    from chatbot.bot import Chatbot
    from chatbot.evals.runner import evaluate
    from chatbot.evals.sets import load_sets
    from chatbot.evals.targets import InProcessTarget

    bot = Chatbot(index, embedder, settings=settings, triage_dir=settings.index_dir / "triage")
    suites = [s for s in load_sets(sets, index.chunks) if not s.skipped]
    run = evaluate(InProcessTarget(bot), suites, index.chunks, index.manifest, bot.k, progress=False)
    for gate in run.gates:
        if gate.ok is False:
            print(f"gate failed: {gate.scope} {gate.gate} {gate.value} {gate.detail}".rstrip(), file=sys.stderr)
    passed = sum(r.passed for r in run.results)
    print(f"Gate sets: {passed}/{len(run.results)} cases passed; {'PASSED' if run.passed else 'FAILED'}.")
    return run.passed


def _index_status(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.errors import IndexProblem
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.search.embeddings import load_embedder
    from chatbot.search.index import load_index
    from chatbot.search.indexing import check_current

    index = load_index(settings.index_dir)
    print(json.dumps(index.summary(), indent=2))
    if args.sections:
        _print_sections(index)
    try:
        embedder = load_embedder(settings.model_path, settings.embedder)
        check_current(index, load_corpus(settings.corpus_dir), embedder, settings.max_chunk_tokens)
        print("current: yes")
        return 0
    except IndexProblem as problem:
        print(f"current: no. {problem}")
        return 1


def _print_sections(index: Any) -> None:
    """Every section with its role, where the role came from, and the topic it belongs to."""
    from chatbot.knowledge.topics import Topics

    topics = Topics(index.topics)
    print(f"{'role':<14}{'from':<14}{'topic':<32}section")
    for chunk in index.chunks:
        topic = next((t.name for t in reversed(topics.topics) if t.heads(chunk)), "")
        part = f" (part {chunk.part})" if chunk.part > 1 else ""
        print(f"{chunk.role:<14}{chunk.role_source:<14}{topic[:30]:<32}{chunk.doc_id}: {chunk.section}{part}")


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.search.retrieval import open_retriever

    retriever = open_retriever(settings)
    result = retriever.retrieve(args.question, k=max(1, args.k))
    if args.json:
        print(json.dumps({
            "query": args.question,
            "search_text": result.query.search_text,
            "intents": list(result.query.intents),
            "relevant": result.relevant,
            "hits": [
                {"rank": rank, "id": h.chunk.id, "section": h.chunk.section, "score": round(h.score, 4),
                 "dense": round(h.dense, 4), "keyword": round(h.keyword, 4), "text": h.chunk.text}
                for rank, h in enumerate(result.hits, start=1)
            ],
        }, indent=2, ensure_ascii=False))
        return 0
    if not result.relevant:
        print("(Nothing in the articles looks relevant to this question.)")
    for rank, hit in enumerate(result.hits, start=1):
        print(f"{rank}. {hit.score:.3f}  {hit.chunk.section}")
        print(f"   dense {hit.dense:.3f} · keyword {hit.keyword:.3f} · {hit.chunk.id}")
    return 0


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.bot import Chatbot

    history = _read_history(args.history) if args.history else []
    reply = Chatbot.from_settings(settings).reply(args.question, history)
    print(json.dumps(reply.to_dict(), indent=2, ensure_ascii=False) if args.json else reply.answer)
    return 0


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.bot import Chatbot

    bot = Chatbot.from_settings(settings)
    history: list[dict[str, str]] = []
    print(f"Ask about {bot.wording.covers}. Empty line or Ctrl-D to quit.\n")
    while True:
        try:
            message = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if not message:
            return 0
        reply = bot.reply(message, history)
        print(f"\nbot> {reply.answer}\n")
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply.answer}]


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.evals.runner import run_from_cli

    return run_from_cli(args, settings)


def _hash_secret(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.serve.admin.auth import hash_secret

    if sys.stdin.isatty():
        import getpass

        secret = getpass.getpass("Admin secret (12 characters or more): ")
        if getpass.getpass("The same again: ") != secret:
            raise ChatbotError("The two secrets differ.")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    print(hash_secret(secret))
    return 0


def _read_history(path: Path) -> list[dict[str, str]]:
    from chatbot.answer.conversation import validate_history

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChatbotError(f"Cannot read history file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ChatbotError(f"History file {path} is not valid JSON: {exc}") from None
    return validate_history(data)


if __name__ == "__main__":
    sys.exit(main())
