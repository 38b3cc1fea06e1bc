"""A running server picks up a rebuilt index: swapped whole, with no failed request."""

from __future__ import annotations

import json
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


def test_the_widget_and_embed_page_greet_with_the_swapped_in_articles_words(tmp_path, fake_embedder):
    """The greeting, the example questions and the script's ETag follow the bot in use."""
    import html
    import re

    from fastapi.testclient import TestClient

    from chatbot.serve.api import create_app
    from chatbot.serve.widget import bot_greeting

    live, settings = served(tmp_path, fake_embedder)
    web = TestClient(create_app(live, settings.with_(data_dir=tmp_path / "data", rate_limit_per_minute=0)))

    def greeting_in_script() -> tuple[str, list[str], str]:
        response = web.get("/widget.js")
        config = json.loads(re.search(r"const SERVER\s*=\s*(\{.*?\});", response.text).group(1))
        return config["greeting"], config["starters"], response.headers["etag"]

    def greeting_on_embed(**params: str) -> str:
        return html.unescape(re.search(r'data-greeting="([^"]*)"', web.get("/embed", params=params).text).group(1))

    before, before_starters, before_etag = greeting_in_script()
    assert "Medial Malleolus" in before and before == bot_greeting(live.current.wording)
    assert greeting_on_embed() == before
    assert web.get("/widget.js", headers={"If-None-Match": before_etag}).status_code == 304

    corpus = tmp_path / "boots"
    corpus.mkdir()
    article = (CORPORA / "boots" / "caring-for-leather-boots.md").read_text(encoding="utf-8")
    article = article.replace('source: "fixtures/boots (non-medical test article)"\n',
                              'source: "fixtures/boots (non-medical test article)"\n'
                              'covers: "looking after leather boots"\n'
                              'questions:\n  - "How do I dry wet boots?"\n', 1)
    (corpus / "caring-for-leather-boots.md").write_text(article, encoding="utf-8")
    save_index(build_index(load_corpus(corpus), fake_embedder), settings.index_dir)
    assert live.check()

    after, after_starters, after_etag = greeting_in_script()
    assert "looking after leather boots" in after and "Malleolus" not in after
    assert after_starters == ["How do I dry wet boots?"] and after_starters != before_starters
    assert after_etag != before_etag
    assert web.get("/widget.js", headers={"If-None-Match": before_etag}).status_code == 200  # the old copy is stale
    assert greeting_on_embed() == after
    assert greeting_on_embed(greeting="A clinic's own words") == "A clinic's own words"  # the page's choice wins
