"""A running server picks up a rebuilt index without a restart.

`chatbot index build` writes the new data files first and the manifest last, in one atomic
rename (search/index.py). `LiveChatbot` watches the manifest; when it changes it loads the new
index, builds a whole new `Chatbot` on it (topics, scope, red flags and wording all come from
the index) and swaps it in with one assignment. A request that started on the old bot
finishes on it; the next one gets the new bot; none fails. An index that cannot be loaded is
logged and the old bot keeps serving.

    bot = LiveChatbot(Chatbot.from_settings(settings), settings)
    bot.start()          # a daemon thread that looks at the manifest every few seconds
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from chatbot.bot import Chatbot
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.search.index import MANIFEST, load_index

log = logging.getLogger(__name__)


class LiveChatbot:
    """Looks like the `Chatbot` it holds (attributes are read from the current one)."""

    def __init__(self, bot: Chatbot, settings: Settings) -> None:
        self._bot = bot
        self._settings = settings
        self._manifest = Path(settings.index_dir) / MANIFEST
        self._seen = self._stamp()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.swaps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bot, name)

    @property
    def current(self) -> Chatbot:
        return self._bot

    def start(self) -> None:
        if self._thread is None and self._settings.reload_seconds > 0:
            self._thread = threading.Thread(target=self._watch, name="index-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Swap in the index if its manifest changed since last seen; True if it did."""
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        old = self._bot
        try:
            index = load_index(self._manifest.parent)
            if index.manifest.get("model", {}).get("fingerprint") != old.index.manifest.get("model", {}).get(
                    "fingerprint"):
                raise ChatbotError("the new index was built with another embedding model; restart to use it")
            new = Chatbot(index, old.retriever.embedder, k=old.k, settings=old.settings,
                          triage_dir=old.settings.index_dir / "triage")
        except ChatbotError as exc:
            log.error("Kept the index in use; the new one cannot be used: %s", exc)
            return False
        new.pins = old.pins
        self._bot = new  # one assignment: the next request gets the new bot
        self.swaps += 1
        summary = index.summary()
        log.info("Switched to the rebuilt index: %d chunks from %d article(s), corpus %s", summary["chunks"],
                 summary["documents"], summary["corpus_fingerprint"][:12])
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self._settings.reload_seconds):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise; the old bot keeps serving
                log.exception("Checking for a rebuilt index failed")

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._manifest.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size
