"""How big the admin pages get with many stored replies: rendered height, HTML size, time.

Fills a fresh SQLite store with replies the real bot gave to a seeded mix of questions
(in-scope questions from the evaluation sets and made-up off-topic ones, spread over the last
four weeks), rates some of them, serves the real app on 127.0.0.1, signs in, and measures
each admin page: its rendered height in Debian Chromium at desktop (1280 px) and phone
(390 px) width, its HTML bytes, and the median server time of a few loads.

    .venv/bin/python bench/admin_pages.py                  # 1,000 replies, every admin page
    .venv/bin/python bench/admin_pages.py --replies 2000 --pages /admin /admin/feedback

A page that does not answer 200 (an older version without it) is listed as missing.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark admin secret"
PAGES = ["/admin", "/admin/unanswered", "/admin/feedback", "/admin/per-day", "/admin/sections",
         "/admin/signs", "/admin/pins"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Off-topic questions people send to a clinic's bot: made up here, no medical content.
TOPICS = ["parking at the clinic", "opening hours", "my car engine", "a bicycle chain", "the weather tomorrow",
          "my phone screen", "a job at the clinic", "the bill I got", "my insurance card", "a cake recipe",
          "the football score", "my laptop battery", "a train ticket", "my garden hedge", "the wifi password"]
ASKS = ["how do I fix {}", "what about {}", "can you help with {}", "question about {}", "i need help with {} please",
        "tell me about {}", "any advice on {}?", "whats the deal with {}", "who do i ask about {}"]
COMMENTS = ["too vague", "did not answer my question", "helpful, thanks", "I wanted to know more", "",
            "this is not what I asked", "clear and short"]


def questions(n: int, rng: random.Random) -> list[str]:
    in_scope = []
    for path in sorted((ROOT / "evals" / "sets").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")).get("cases", []):
            if isinstance(case.get("question"), str):
                in_scope.append(case["question"])
    out = []
    while len(out) < n:
        if rng.random() < 0.55 and in_scope:
            out.append(rng.choice(in_scope))
        else:
            out.append(rng.choice(ASKS).format(rng.choice(TOPICS)) + rng.choice(["", "?", " thanks", " asap"]))
    return out


def fill(data_dir: Path, bot, n: int, seed: int) -> dict[str, int]:
    from chatbot.store.store import Recorded, Store

    rng = random.Random(seed)
    now = datetime.now(UTC)
    moments = sorted(now - timedelta(days=rng.uniform(0, 27), minutes=rng.uniform(0, 600)) for _ in range(n))
    clock = {"now": moments[0]}
    store = Store(f"sqlite:///{data_dir / 'feedback.sqlite3'}", clock=lambda: clock["now"])
    store.migrate()
    ids = []
    for moment, question in zip(moments, questions(n, rng), strict=True):
        clock["now"] = moment
        message_id = uuid.uuid4().hex
        store.record_replies([Recorded(message_id, question, bot.reply(question))])
        ids.append(message_id)
        if rng.random() < 0.12:
            store.add_feedback(rng.choice(["up", "down", "down"]), message_id=message_id,
                               comment=rng.choice(COMMENTS) or None)
    counts = store.counts()
    store.close()
    return counts


def serve(app) -> tuple[str, object, threading.Thread]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def sign_in(client: httpx.Client) -> None:
    import re

    form = client.get("/admin/sign-in").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    response = client.post("/admin/sign-in", data={"csrf": token, "secret": SECRET})
    if response.status_code != 303:
        raise SystemExit(f"could not sign in: {response.status_code}")


def measure(url: str, pages: list[str], loads: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    results = []
    with httpx.Client(base_url=url, timeout=120, follow_redirects=False) as client:
        sign_in(client)
        for path in pages:
            times, body, status = [], b"", 0
            for _ in range(loads):
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                body, status = response.content, response.status_code
            results.append({"path": path, "status": status, "bytes": len(body),
                            "ms": 1000 * statistics.median(times), "cookie": client.cookies.get("chatbot_admin")})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for device, width in (("desktop", 1280), ("phone", 390)):
            context = browser.new_context(viewport={"width": width, "height": 800})
            context.add_cookies([{"name": "chatbot_admin", "value": results[0]["cookie"], "url": url + "/admin"}])
            page = context.new_page()
            for row in results:
                if row["status"] != 200:
                    continue
                page.goto(url + row["path"])
                row[device] = page.evaluate("document.documentElement.scrollHeight")
            context.close()
        browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--pages", nargs="*", default=PAGES)
    parser.add_argument("--loads", type=int, default=5, help="loads per page for the median server time")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from chatbot.bot import Chatbot
    from chatbot.config import Settings
    from chatbot.serve.admin.auth import hash_secret
    from chatbot.serve.api import create_app

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        settings = Settings().with_(data_dir=tmp_path / "data", index_dir=tmp_path / "index",
                                    corpus_dir=ROOT / "corpus", rate_limit_per_minute=0,
                                    admin_secret_hash=hash_secret(SECRET))
        (tmp_path / "data").mkdir()
        started = time.perf_counter()
        bot = Chatbot.from_settings(settings, rebuild=True)
        counts = fill(tmp_path / "data", bot, args.replies, args.seed)
        print(f"stored {counts['replies']} replies and {counts['feedback']} ratings "
              f"in {time.perf_counter() - started:.0f} s")
        url, server, thread = serve(create_app(bot, settings))
        try:
            results = measure(url, args.pages, args.loads)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    print(f"{'page':<20} {'status':>6} {'HTML bytes':>11} {'desktop px':>11} {'phone px':>9} {'median ms':>10}")
    for row in results:
        if row["status"] != 200:
            print(f"{row['path']:<20} {row['status']:>6}  (missing)")
            continue
        print(f"{row['path']:<20} {row['status']:>6} {row['bytes']:>11,} {row['desktop']:>11,} {row['phone']:>9,} "
              f"{row['ms']:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
