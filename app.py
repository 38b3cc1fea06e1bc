"""Serve the chat page and the HTTP API in one process.

    python app.py [--host 127.0.0.1] [--port 7860]      (or CHATBOT_HOST / CHATBOT_PORT)

Loads the model and index once (building the index first if it is missing or stale), then
serves `chatbot.serve.api.create_app` with uvicorn: the page at /, the API under /api, /healthz
and /docs. Slow and stalled clients are held to a time limit and a connection cap
(chatbot/serve/connections.py). Nothing reaches the internet.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from chatbot.config import Settings, go_offline

go_offline()  # before any library that might phone home is imported
# One BLAS/OpenMP thread per computation, set before NumPy and FAISS load: requests already
# run side by side, and nested thread pools on top of them fought over the cores (under load
# 4x fewer replies per second, see bench/load_test.py). Set these variables to override.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

log = logging.getLogger("chatbot.app")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to listen on (default CHATBOT_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default CHATBOT_PORT or 7860)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from chatbot.errors import ChatbotError

    try:
        settings = Settings.load()
        settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
        app = build(settings)
    except ChatbotError as exc:
        log.error("%s", exc)
        return 1

    serve(app, settings)
    return 0


# Open files kept back from connections: 64 for the model, the index, the database and logs,
# and room for what the event loop accepts before the cap sees it: up to ACCEPT_BACKLOG
# connections each turn of the loop, and a connection is counted two turns after its accept.
ACCEPT_BACKLOG = 128
RESERVED_FILES = 64 + 3 * ACCEPT_BACKLOG


def serve(app, settings: Settings) -> None:
    """Run `app` with uvicorn until stopped, guarded against slow and stalled clients."""
    import uvicorn

    from chatbot.serve.connections import guarded_protocol, raise_open_file_limit

    files = raise_open_file_limit()
    max_connections = max(1, min(settings.max_connections, files - RESERVED_FILES))
    log.info("Serving on http://%s:%d (API docs at /docs); up to %d connections (open-file limit %d), "
             "each request to arrive within %d s", settings.host, settings.port, max_connections, files,
             settings.request_timeout_seconds)
    # No access log: it would write every visitor's IP address to the log. The client address
    # comes from the socket unless CHATBOT_TRUST_PROXY_HEADERS says otherwise (see ratelimit.py),
    # so uvicorn must not rewrite it from X-Forwarded-For on its own. No `limit_concurrency`:
    # it counts stalled connections too, and would turn everyone away while they last.
    uvicorn.run(
        app, host=settings.host, port=settings.port, proxy_headers=False, access_log=False,
        server_header=False, timeout_graceful_shutdown=5, log_level="info", timeout_keep_alive=5,
        backlog=ACCEPT_BACKLOG, http=guarded_protocol(settings.request_timeout_seconds, max_connections),
    )


def build(settings: Settings):  # -> FastAPI, imported late so --help stays fast
    from chatbot.bot import Chatbot
    from chatbot.serve.api import create_app
    from chatbot.serve.feedback import FeedbackStore
    from chatbot.serve.live import LiveChatbot
    from chatbot.store.pins import StoredPins

    feedback = FeedbackStore.from_settings(settings)
    feedback.store.migrate()  # the schema first: a database that cannot be reached stops the start here
    feedback.store.purge_every()
    log.info("Records in %s (rows kept %d days)", feedback.store.where, settings.retention_days)

    started = time.perf_counter()
    log.info("Loading the model and search index from %s (built first if missing or stale)", settings.index_dir)
    bot = Chatbot.from_settings(settings, rebuild=True, batch=settings.batch_questions)
    summary = bot.index.summary()
    log.info("Index ready: %d chunks, model %s, corpus %s (%.1f s)", summary["chunks"], summary["model"],
             summary["corpus_fingerprint"][:12], time.perf_counter() - started)
    bot.pins = StoredPins(feedback.store, bot.retriever.embedder.model_id)
    live = LiveChatbot(bot, settings)  # a rebuilt index is picked up without a restart
    live.start()
    return create_app(live, settings, feedback=feedback)


if __name__ == "__main__":
    sys.exit(main())
