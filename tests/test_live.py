"""A running server picks up a rebuilt index: swapped whole, with no failed request."""

from __future__ import annotations

import threading
from pathlib import Path

from chatbot.bot import Chatbot
from chatbot.config import Settings
from chatbot.knowledge.corpus import load_corpus
from chatbot.search.index import save_index
from chatbot.search.indexing import build_index
from chatbot.serve.live import LiveChatbot

CORPORA = Path(__file__).parent / "data" / "corpora"


def served(tmp_path: Path, embedder, corpus: str = "seed") -> tuple[LiveChatbot, Settings]:
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=CORPORA / corpus, reload_seconds=0)
    index = build_index(load_corpus(CORPORA / corpus), embedder)
    save_index(index, settings.index_dir)
    return LiveChatbot(Chatbot(index, embedder, settings=settings), settings), settings


def test_a_rebuilt_index_is_swapped_in_whole(tmp_path, fake_embedder):
    live, settings = served(tmp_path, fake_embedder)
    assert not live.check()  # nothing changed yet
    old = live.current
    save_index(build_index(load_corpus(CORPORA / "bicycle-plus-seed"), fake_embedder), settings.index_dir)
    assert live.check() and live.current is not old and live.swaps == 1
    assert live.index.summary()["documents"] == 2
    assert {t.name for t in live.topics.topics} >= {"Worn brakes", "Chain wear"}  # knowledge came with it
    assert "Looking After Your Bicycle" in live.reply("hello").body


def test_an_index_that_cannot_be_loaded_leaves_the_old_one_serving(tmp_path, fake_embedder, caplog):
    live, settings = served(tmp_path, fake_embedder)
    old = live.current
    (settings.index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    assert not live.check()
    assert live.current is old and live.reply("what is pttd?").kind == "answer"
    assert "Kept the index in use" in caplog.text


def test_replies_keep_coming_while_the_index_is_swapped(tmp_path, fake_embedder):
    live, settings = served(tmp_path, fake_embedder)
    errors: list[BaseException] = []
    kinds: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                kinds.append(live.reply("how is tarsal tunnel syndrome treated?").kind)
            except BaseException as exc:
                errors.append(exc)

    workers = [threading.Thread(target=ask) for _ in range(4)]
    for worker in workers:
        worker.start()
    for corpus in ("split", "seed", "split"):
        save_index(build_index(load_corpus(CORPORA / corpus), fake_embedder), settings.index_dir)
        assert live.check()
    stop.set()
    for worker in workers:
        worker.join()
    assert not errors and kinds and set(kinds) == {"answer"} and live.swaps == 3
