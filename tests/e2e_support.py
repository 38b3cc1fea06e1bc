"""What the browser tests share: Debian's Chromium, the axe-core engine, and the app served
in this process on 127.0.0.1.

    with serve(app) as base_url: ...          # uvicorn in a thread, stopped at the end
    with chromium() as browser: ...           # headless Debian Chromium via Playwright
    violations = axe(page)                    # axe-core run on the page as it is now

The app is the real one (`create_app`) over the real `Chatbot`; `ScriptedBot` answers chosen
messages with a given `Reply`, for rendering cases the article cannot produce on demand.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chatbot.answer.reply import Reply
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
WIDGET = "ankle-chat-widget"


@contextmanager
def chromium() -> Iterator:
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's chromium (`make browser`).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(app) -> Iterator[str]:
    """The ASGI app on a free loopback port, in a thread of this process."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class ScriptedBot:
    """The real bot, except that messages in `script` get the scripted reply."""

    def __init__(self, bot, script: dict[str, Reply] | None = None) -> None:
        self.bot, self.script = bot, dict(script or {})

    def __getattr__(self, name):
        return getattr(self.bot, name)

    def reply(self, message: str, history=None) -> Reply:
        scripted = self.script.get(message.strip())
        return scripted if scripted is not None else self.bot.reply(message, history)

    def stream(self, message: str, history=None):
        reply = self.reply(message, history)
        yield from reply.pieces()
        yield reply


def axe(page, rules: dict | None = None) -> list[dict]:
    """axe-core's violations on the page now (open shadow roots included)."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make browser` (npm ci) first.")
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated by the browser's debugging protocol, not as a <script>: a page's CSP (the
        # strict one of /embed) does not apply to it.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    options = {"resultTypes": ["violations"], **({"runOnly": rules} if rules else {})}
    return page.evaluate("options => axe.run(document, options).then(r => r.violations.map(v => ({"
                         "id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({"
                         "target: n.target, summary: n.failureSummary, html: n.html.slice(0, 200)}))})))",
                         options)


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in ("critical", "serious")]


def describe(violations: list[dict]) -> str:
    return "\n".join(f"{v['impact']}: {v['id']} ({v['help']}): "
                     + "; ".join(f"{n['target']} {n['summary']}" for n in v["nodes"][:4]) for v in violations)
