"""The clinic widget in a real headless Chromium against a real server.

The server is the real app, `python app.py --port N`, as its own process; the clinic's
site is a plain web server on another port. Set WIDGET_SCREENSHOTS=/some/folder to keep
screenshots of the demo page.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Records every use of the browser's HTML parsing sinks by page scripts.
HTML_SINK_SPY = """
window.__htmlSinks = [];
for (const [proto, name] of [[Element.prototype, 'innerHTML'], [Element.prototype, 'outerHTML'],
                             [ShadowRoot.prototype, 'innerHTML']]) {
  const own = Object.getOwnPropertyDescriptor(proto, name);
  const set = function (value) { window.__htmlSinks.push(name); own.set.call(this, value); };
  Object.defineProperty(proto, name, {...own, set});
}
for (const [proto, name] of [[Element.prototype, 'insertAdjacentHTML'], [Document.prototype, 'write'],
                             [Range.prototype, 'createContextualFragment']]) {
  const own = proto[name];
  proto[name] = function (...args) { window.__htmlSinks.push(name); return own.apply(this, args); };
}
"""
XSS = '<img src=x onerror="window.__xss=1"> <script>window.__xss=1</script> tarsal tunnel'
WIDGET = "ankle-chat-widget"
# A clinic's own site: another origin (another port) on this machine, with the snippet on it.


# --- the server ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _wait_until_up(url: str, process: subprocess.Popen | None = None, log: Path | None = None,
                   timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"the server exited with code {process.returncode} before it answered {url}:\n{output}")
        status = _status(url)
        if status is not None:
            return status
        time.sleep(0.3)
    pytest.fail(f"the server did not answer {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def clinic() -> Iterator[dict]:
    """A plain web server for a clinic's page: `clinic["page"]` is what it serves."""
    site = {"page": "<!doctype html><title>Clinic</title>"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site["page"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    site["origin"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield site
    httpd.shutdown()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory, clinic) -> Iterator[str]:
    """The real app as its own process, with the clinic's site allowed to call it."""
    tmp = tmp_path_factory.mktemp("widget-server")
    port = _free_port()
    env = {
        **os.environ, "CHATBOT_DATA_DIR": str(tmp / "data"), "CHATBOT_ALLOWED_ORIGINS": clinic["origin"],
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp / "server.log"
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_until_up(base + "/widget.js", process, log) == 200, "the app does not serve /widget.js"
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


# --- the browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's chromium (`make browser`).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
    )
    page = context.new_page()
    yield page
    context.close()


def shadow(page, selector: str):
    """Playwright's CSS engine reaches into open shadow roots."""
    return page.locator(f"{WIDGET} {selector}")


def open_widget(page) -> None:
    launcher = shadow(page, ".launcher")
    launcher.wait_for(state="visible")
    if launcher.get_attribute("aria-expanded") != "true":  # a reload keeps an open panel open
        launcher.click()
    shadow(page, ".panel").wait_for(state="visible")


def ask(page, question: str, replies_before: int | None = None) -> None:
    count = shadow(page, ".msg.bot:not(.streaming)").count() if replies_before is None else replies_before
    box = shadow(page, "textarea")
    box.fill(question)
    box.press("Enter")
    shadow(page, ".msg.bot:not(.streaming)").nth(count).wait_for(timeout=60_000)


def watch_streaming(page) -> None:
    """Note whether answer text ever shows while a reply is still streaming."""
    page.evaluate(
        """(tag) => {
          const root = document.querySelector(tag).shadowRoot;
          window.__streamed = false;
          new MutationObserver(() => {
            for (const el of root.querySelectorAll('.streaming .md')) {
              if (el.textContent.trim()) window.__streamed = true;
            }
          }).observe(root, {subtree: true, childList: true, characterData: true});
        }""",
        WIDGET,
    )


def screenshot(page, name: str) -> None:
    folder = os.environ.get("WIDGET_SCREENSHOTS")
    if folder:
        shadow(page, ".log").evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.screenshot(path=str(Path(folder) / name))


def last_reply(page):
    return shadow(page, ".msg.bot:not(.streaming)").last


def check_answer(page) -> None:
    reply = last_reply(page)
    assert "Tarsal Tunnel" in reply.locator(".md").inner_text()
    # Citations: section titles that open to show the quoted text.
    source = reply.locator("details").first
    assert "Symptoms" in source.locator("summary").inner_text()
    assert not source.locator("blockquote").is_visible()
    source.locator("summary").click()
    assert source.locator("blockquote").is_visible()
    assert "tingling" in source.locator("blockquote").inner_text().lower()
    # Red flags and disclaimer, drawn apart from the body; the Markdown footer is not repeated.
    assert reply.locator(".flags li").count() >= 1
    assert reply.locator(".flags").is_visible()
    assert "not medical advice" in reply.locator(".disclaimer").inner_text()
    assert reply.locator(".md hr").count() == 0


# --- the tests -------------------------------------------------------------------------------
def test_demo_page_desktop_flow(page, server_url):
    page.add_init_script(HTML_SINK_SPY)
    page.goto(server_url + "/demo")
    launcher = shadow(page, ".launcher")
    launcher.wait_for(state="visible")
    assert launcher.get_attribute("aria-expanded") == "false"

    open_widget(page)
    assert launcher.get_attribute("aria-expanded") == "true"
    # The disclaimer is on screen as soon as the panel opens, with example questions.
    assert "not medical advice" in shadow(page, ".intro .disclaimer").inner_text()
    assert shadow(page, ".starters button").count() >= 1
    assert shadow(page, "[role=log][aria-live=off]").count() == 1  # replies are announced by a status region
    assert shadow(page, "[role=status][aria-live=polite]").count() == 1
    assert shadow(page, "textarea").evaluate("el => el.labels[0].textContent") == "Your question"

    # The page's hostile CSS does not reach inside.
    styles = shadow(page, ".panel").evaluate(
        """el => { const s = getComputedStyle(el);
                   return [s.fontFamily, s.textTransform, s.position, getComputedStyle(el.parentNode).lineHeight]; }"""
    )
    assert "Comic" not in styles[0] and styles[1] == "none" and styles[2] == "fixed", styles
    assert shadow(page, ".send").is_visible()
    assert shadow(page, ".head").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(11, 110, 79)"

    watch_streaming(page)
    ask(page, "symptoms of tarsal tunnel syndrome", 0)
    assert page.evaluate("window.__streamed"), "no answer text was shown while streaming"
    check_answer(page)
    assert shadow(page, ".starters").count() == 0
    screenshot(page, "widget_desktop.png")

    # A reload in the same tab keeps the conversation (and the open panel).
    page.reload()
    shadow(page, ".panel").wait_for(state="visible")
    assert shadow(page, ".msg.user").count() == 1
    assert shadow(page, ".msg.bot").count() == 1
    check_answer(page)

    # The next question carries the conversation as history.
    requests = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/api/chat/stream") else None)
    ask(page, "how is it treated?")
    body = requests[-1].post_data_json
    assert [t["role"] for t in body["history"]] == ["user", "assistant"]
    assert body["history"][0]["content"] == "symptoms of tarsal tunnel syndrome"
    assert "See a doctor" not in body["history"][1]["content"]
    assert page.evaluate("window.__htmlSinks") == [], "the widget parsed HTML"


def test_xss_stays_text(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    ask(page, XSS, 0)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert shadow(page, ".msg.user p").first.inner_text() == XSS
    assert shadow(page, "img").count() == 0 and shadow(page, ".log script").count() == 0
    page.reload()
    shadow(page, ".msg.user").first.wait_for()
    assert shadow(page, ".msg.user p").first.inner_text() == XSS
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_xss_in_a_reply_stays_text(page, server_url):
    """Whatever the server sends (answer, citations, red flags, disclaimer) is shown as text."""
    bad = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
    reply = {
        "answer": f"**{bad}** [1]\n- {bad}\n\n---\n\n**{bad}**\n- {bad}\n\n_{bad}_",
        "kind": "answer",
        "citations": [{"n": 1, "id": "x", "section": f"A › {bad}", "quote": bad, "score": 1.0}],
        "red_flags": [bad], "disclaimer": bad,
    }
    body = f"event: delta\ndata: {json.dumps({'text': reply['answer']})}\n\nevent: reply\ndata: {json.dumps(reply)}\n\n"
    page.route("**/api/chat/stream", lambda route: route.fulfill(
        status=200, headers={"Content-Type": "text/event-stream"}, body=body,
    ))
    page.add_init_script(HTML_SINK_SPY)
    page.goto(server_url + "/demo")
    open_widget(page)
    ask(page, "hello", 0)
    answer = last_reply(page)
    answer.locator("summary").click()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert shadow(page, "img").count() == 0 and shadow(page, ".log script").count() == 0
    assert answer.locator(".md strong").inner_text() == bad
    assert answer.locator("blockquote").inner_text() == bad
    assert answer.locator(".flags li").inner_text() == bad
    assert answer.locator(".footer .disclaimer").inner_text() == bad
    assert page.evaluate("window.__htmlSinks") == [], "the widget parsed HTML"
    page.evaluate("document.createElement('p').innerHTML = 'x'")  # the spy itself works
    assert page.evaluate("window.__htmlSinks") == ["innerHTML"]


def test_keyboard(page, server_url):
    page.goto(server_url + "/demo")
    launcher = shadow(page, ".launcher")
    launcher.focus()
    page.keyboard.press("Enter")
    shadow(page, ".panel").wait_for(state="visible")
    active = f"document.querySelector('{WIDGET}').shadowRoot.activeElement"
    assert page.evaluate(f"{active}.id") == "chat-input"
    # Shift+Enter is a new line, not a send.
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second")
    assert shadow(page, "textarea").input_value() == "first line\nsecond"
    assert shadow(page, ".msg.user").count() == 0
    # A visible focus ring on keyboard focus.
    page.keyboard.press("Tab")
    assert page.evaluate(f"getComputedStyle({active}).outlineStyle") == "solid"
    # Esc closes and gives focus back to the launcher.
    page.keyboard.press("Escape")
    assert shadow(page, ".panel").is_hidden()
    assert page.evaluate(f"{active}.classList.contains('launcher')")
    assert launcher.get_attribute("aria-expanded") == "false"


def test_emergency_and_clear(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    ask(page, "i fell and the bone is sticking out of my ankle", 0)
    reply = last_reply(page)
    assert "emergency" in reply.get_attribute("class")
    alert = reply.locator(".alert")
    assert alert.get_attribute("role") == "alert" and "emergency number" in alert.inner_text()
    assert alert.locator(".alert-head svg").count() == 1
    assert alert.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(180, 35, 24)"
    assert reply.locator(".flags li").count() >= 1
    assert reply.locator(".disclaimer").inner_text()

    shadow(page, "[aria-label='Clear conversation']").click()
    assert shadow(page, ".msg").count() == 0
    assert shadow(page, ".starters button").count() >= 1
    page.reload()
    shadow(page, ".panel").wait_for(state="visible")
    assert shadow(page, ".msg").count() == 0
    # The launcher toggles the panel.
    shadow(page, ".launcher").click()
    assert shadow(page, ".panel").is_hidden()


def test_phone_full_screen(phone, server_url):
    phone.goto(server_url + "/demo")
    open_widget(phone)
    box = shadow(phone, ".panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}, box
    assert shadow(phone, "textarea").evaluate("el => getComputedStyle(el).fontSize") == "16px"  # no zoom on focus
    ask(phone, "symptoms of tarsal tunnel syndrome", 0)
    check_answer(phone)
    input_box = shadow(phone, "textarea").bounding_box()
    assert input_box["y"] + input_box["height"] <= 844
    screenshot(phone, "widget_phone.png")
    phone.reload()
    shadow(phone, ".panel").wait_for(state="visible")
    assert shadow(phone, ".msg.bot").count() == 1
    shadow(phone, "[aria-label='Close chat']").click()
    assert shadow(phone, ".panel").is_hidden()


def test_an_answer_can_be_rated_once(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    ask(page, "how is tarsal tunnel syndrome treated", 0)
    reply = last_reply(page)
    helpful = reply.locator("[aria-label='Helpful']")
    with page.expect_response("**/api/feedback") as sent:
        helpful.click()
    assert sent.value.status == 201
    assert sent.value.request.post_data_json["rating"] == "up"
    assert len(sent.value.request.post_data_json["message_id"]) == 32
    reply.locator(".rate [role=status]").filter(has_text="Thanks").wait_for()
    assert helpful.get_attribute("aria-pressed") == "true"
    assert helpful.is_disabled() and reply.locator("[aria-label='Not helpful']").is_disabled()
    page.reload()  # the vote is remembered for the tab
    shadow(page, ".panel").wait_for(state="visible")
    assert last_reply(page).locator("[aria-label='Helpful']").get_attribute("aria-pressed") == "true"


def test_a_failed_vote_can_be_sent_again(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    ask(page, "what is tarsal tunnel syndrome", 0)
    page.route("**/api/feedback", lambda route: route.fulfill(status=503, body="{}"), times=1)
    down = last_reply(page).locator("[aria-label='Not helpful']")
    down.click()
    last_reply(page).locator(".rate [role=status]").filter(has_text="Try again").wait_for()
    assert not down.is_disabled() and down.get_attribute("aria-pressed") == "false"
    with page.expect_response("**/api/feedback") as sent:
        down.click()
    assert sent.value.status == 201


def test_phone_panel_keeps_keyboard_focus_inside(phone, server_url):
    phone.goto(server_url + "/demo")
    open_widget(phone)
    ask(phone, "symptoms of tarsal tunnel syndrome", 0)
    assert shadow(phone, ".panel").get_attribute("aria-modal") == "true"
    inside = f"(() => {{ const r = document.querySelector('{WIDGET}').shadowRoot;" \
             " return !!r.activeElement && r.querySelector('.panel').contains(r.activeElement); })()"
    shadow(phone, "textarea").focus()
    for _ in range(40):  # more stops than the panel has: focus must wrap, never reach the page
        phone.keyboard.press("Tab")
        assert phone.evaluate(inside)
    shadow(phone, "[aria-label='Clear conversation']").focus()
    phone.keyboard.press("Shift+Tab")
    assert phone.evaluate(inside)


def test_desktop_panel_is_not_modal(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    assert shadow(page, ".panel").get_attribute("aria-modal") == "false"


def _fail_next_stream(page, **fulfil) -> None:
    page.route("**/api/chat/stream", lambda route: route.abort() if not fulfil else route.fulfill(**fulfil), times=1)


def _expect_error(page, text: str, question: str) -> None:
    error = shadow(page, ".error")
    error.wait_for(state="visible")
    assert text in error.inner_text()
    assert error.get_attribute("role") == "alert"
    assert shadow(page, "textarea").input_value() == question  # what they typed is kept
    assert shadow(page, ".msg").count() == 0  # no half answer, no orphan question


def test_errors_keep_the_question(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    question = "symptoms of tarsal tunnel syndrome"

    _fail_next_stream(page)  # network loss
    shadow(page, "textarea").fill(question)
    shadow(page, "textarea").press("Enter")
    _expect_error(page, "Can't reach", question)

    _fail_next_stream(page, status=503, json={"error": {"code": "unavailable", "message": "down"}})
    shadow(page, ".retry").click()
    _expect_error(page, "went wrong", question)

    sse = {"status": 200, "headers": {"Content-Type": "text/event-stream"}}
    half = 'event: delta\ndata: {"text": "Half an ans"}\n\n'
    _fail_next_stream(page, **sse, body=half + 'event: error\ndata: {"error": {"code": "x", "message": "y"}}\n\n')
    shadow(page, ".retry").click()
    _expect_error(page, "went wrong", question)

    _fail_next_stream(page, **sse, body=half)  # the connection ends before the reply
    shadow(page, ".retry").click()
    _expect_error(page, "cut off", question)

    busy = {"error": {"code": "rate_limited", "message": "slow down"}}
    _fail_next_stream(page, status=429, headers={"Retry-After": "2"}, json=busy)
    shadow(page, ".retry").click()
    _expect_error(page, "Too many", question)
    retry = shadow(page, ".retry")
    assert retry.is_disabled() and "Try again in" in retry.inner_text()
    assert shadow(page, ".send").is_disabled()
    page.wait_for_timeout(3200)
    assert retry.is_enabled()

    # Once the service is back, the same button sends the kept question.
    retry.click()
    last_reply(page).wait_for(timeout=60_000)
    assert shadow(page, ".error").is_hidden()
    assert shadow(page, ".msg.user p").inner_text() == question
    assert shadow(page, "textarea").input_value() == ""


def test_history_is_trimmed_to_the_server_limits(page, server_url):
    """A long conversation from earlier in the tab: only the newest turns that fit in 20 turns
    and 16 KB are sent, and the server accepts them."""
    page.goto(server_url + "/demo")
    open_widget(page)
    ask(page, "symptoms of tarsal tunnel syndrome", 0)
    page.evaluate(
        """() => {
          const key = Object.keys(sessionStorage).find((k) => k.startsWith('ankle-chat:'));
          const saved = JSON.parse(sessionStorage.getItem(key));
          const [question, answer] = saved.msgs;
          saved.msgs = [];
          for (let i = 0; i < 15; i++) {
            saved.msgs.push({role: 'user', text: i + ' ' + 'é'.repeat(900)}, answer);
          }
          saved.msgs.push(question, answer);
          sessionStorage.setItem(key, JSON.stringify(saved));
        }"""
    )
    page.reload()
    shadow(page, ".panel").wait_for(state="visible")
    assert shadow(page, ".msg.bot").count() == 16
    requests = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/api/chat/stream") else None)
    ask(page, "how is it treated?")
    history = requests[-1].post_data_json["history"]
    assert 2 <= len(history) < 20  # 20 turns would be over 16 KB here: the byte limit decides
    assert sum(len(turn["content"].encode()) for turn in history) <= 16 * 1024
    assert history[-2]["content"] == "symptoms of tarsal tunnel syndrome"  # the newest are kept
    assert shadow(page, ".error").is_hidden()


def test_embed_page(page, server_url):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(server_url + "/embed?title=Ask%20the%20clinic&color=%23ffd400")
    panel = shadow(page, ".panel")
    panel.wait_for(state="visible")
    assert shadow(page, ".launcher").count() == 0 and shadow(page, "[aria-label='Close chat']").count() == 0
    assert shadow(page, "h1").inner_text() == "Ask the clinic"
    assert panel.bounding_box() == {"x": 0, "y": 0, "width": 1280, "height": 860}
    # A light clinic colour gets dark text on it (the style sheet applies under the strict CSP).
    header = shadow(page, ".head").evaluate("el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]")
    assert header == ["rgb(255, 212, 0)", "rgb(0, 0, 0)"], header
    ask(page, "symptoms of tarsal tunnel syndrome", 0)
    check_answer(page)
    assert violations == []


def _frame_has_widget(page, url: str) -> bool:
    page.evaluate("url => { const f = document.createElement('iframe'); f.src = url; document.body.append(f); }", url)
    page.wait_for_timeout(1500)
    frame = page.frames[-1]
    return frame.url == url and frame.evaluate("() => !!document.querySelector('ankle-chat-widget')")


def test_embed_frame_ancestors(page, server_url, clinic):
    """With the default frame_ancestors ('self'), the bot's own pages may frame the chat and
    another site may not."""
    page.goto(server_url + "/demo")
    assert _frame_has_widget(page, server_url + "/embed")
    clinic["page"] = "<!doctype html><title>Clinic</title><h1>Clinic</h1>"
    page.goto(clinic["origin"] + "/")
    assert not _frame_has_widget(page, server_url + "/embed")


def test_snippet_on_another_site(page, server_url, clinic):
    """A clinic's own site on another origin (allowed by CHATBOT_ALLOWED_ORIGINS), with
    data-position=left and a colour name."""
    clinic["page"] = (
        "<!doctype html><title>Clinic</title><h1>Clinic</h1>"
        f'<script src="{server_url}/widget.js" data-title="Questions?" data-color="navy" data-position="left"'
        " async></script>"
    )
    page.goto(clinic["origin"] + "/")
    open_widget(page)
    assert shadow(page, ".launcher").bounding_box()["x"] < 100
    assert shadow(page, ".head").evaluate("el => getComputedStyle(el).color") == "rgb(255, 255, 255)"
    ask(page, "symptoms of tarsal tunnel syndrome", 0)
    check_answer(page)
    assert page.evaluate("Object.keys(window.AnkleChat).sort().join()") == "clear,close,open"
    # Nothing leaks onto the page: no style sheets, one global.
    assert page.evaluate("document.styleSheets.length + document.adoptedStyleSheets.length") == 0
    extra_globals = page.evaluate(
        """() => { const blank = document.body.appendChild(document.createElement('iframe')).contentWindow;
                   return Object.keys(window).filter((k) => !(k in blank) && isNaN(k)); }"""
    )
    assert extra_globals == ["AnkleChat"], extra_globals


# --- replies from their fields, alerts, scrolling, the clinic's own words -------------------
SSE = {"status": 200, "headers": {"Content-Type": "text/event-stream"}}


def _reply_stream(reply: dict) -> str:
    text = json.dumps({"text": reply["answer"]})
    return f"event: delta\ndata: {text}\n\nevent: reply\ndata: {json.dumps(reply)}\n\n"


def _answer_with(page, reply: dict, question: str = "a question") -> None:
    page.route("**/api/chat/stream", lambda route: route.fulfill(**SSE, body=_reply_stream(reply)), times=1)
    ask(page, question)


def test_phone_emergency_headline_is_on_screen_and_first(phone, server_url):
    phone.goto(server_url + "/demo")
    open_widget(phone)
    ask(phone, "symptoms of tarsal tunnel syndrome", 0)
    ask(phone, "i fell and the bone is sticking out of my ankle")
    phone.wait_for_timeout(300)
    reply = last_reply(phone)
    headline = reply.locator(".alert strong").first
    assert "emergency number" in headline.inner_text()
    box = headline.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    assert reply.evaluate("el => [...el.children].find(c => !c.classList.contains('sr-only')).className") == "alert"
    assert reply.locator(".alert").get_attribute("role") == "alert"
    log, question = shadow(phone, ".log").bounding_box(), shadow(phone, ".msg.user").last.bounding_box()
    assert log["y"] <= question["y"] <= log["y"] + 40, (question, log)  # the question on top, the alert below it
    screenshot(phone, "widget_phone_emergency.png")


def test_a_new_question_comes_to_the_top_of_the_log(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    ask(page, "symptoms of tarsal tunnel syndrome", 0)
    ask(page, "how is posterior tibial tendon dysfunction treated")
    shadow(page, ".log").evaluate("el => { el.scrollTop = 0; }")
    ask(page, "when should i see a doctor")
    log = shadow(page, ".log").bounding_box()
    question = shadow(page, ".msg.user").last.bounding_box()
    assert log["y"] <= question["y"] <= log["y"] + 40, (question, log)
    spoken = shadow(page, "[role=status][aria-live=polite]").inner_text()
    assert spoken.startswith("Answer:") and "not medical advice" not in spoken


def test_a_reply_is_drawn_from_its_fields(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    reply = {
        "answer": "IGNORED when fields are there", "kind": "urgent", "body": "What to do next [1] [2].",
        "alert": {"level": "urgent", "message": "**See a doctor today.** Do not wait.", "signs": ["a warm, red ankle"]},
        "notices": [{"kind": "not_covered", "text": "The articles do not cover infections."}],
        "citations": [
            {"n": 1, "id": "a", "section": "A › B › C", "label": "Part C", "article_id": "one",
             "article_title": "First article", "quote": "quoted one", "score": 0.9},
            {"n": 2, "id": "b", "section": "X › Y", "label": "Part Y", "article_id": "two",
             "article_title": "Second article", "quote": "quoted two", "score": 0.8},
        ],
        "red_flags": ["Flag one", "Flag two"], "red_flags_heading": "Get help if:", "disclaimer": "Not advice.",
    }
    _answer_with(page, reply)
    shown = last_reply(page)
    assert "IGNORED" not in shown.inner_text()
    alert = shown.locator(".alert")
    assert alert.get_attribute("role") == "alert" and "See a doctor today." in alert.locator("strong").inner_text()
    assert "a warm, red ankle" in alert.inner_text() and "urgent" in alert.inner_text().lower()
    assert alert.evaluate("el => getComputedStyle(el).backgroundColor") != "rgb(180, 35, 24)"  # its own style
    order = shown.evaluate(
        "el => [...el.querySelectorAll('.alert, .notice, .md, .sources, .flags')].map(e => e.className)")
    assert order == ["alert", "notice", "md", "sources", "flags"], order
    assert shown.locator("summary").all_inner_texts() == ["1Part C", "2Part Y"]
    assert shown.locator(".path").all_text_contents() == ["First article", "Second article"]
    assert shown.locator(".flags").inner_text().startswith("Get help if:")
    assert shown.locator(".flags li").all_inner_texts() == ["Flag one", "Flag two"]
    page.reload()  # shown again from the tab's storage: the same, but not announced again
    shadow(page, ".panel").wait_for(state="visible")
    assert last_reply(page).locator(".alert").get_attribute("role") is None
    assert last_reply(page).locator(".notice").inner_text() == "The articles do not cover infections."


def test_an_older_servers_reply_still_shows_its_parts(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    old = {"answer": "Old body text.\n\n---\n\n**See someone if:**\n- Old flag\n\n_Old disclaimer._", "kind": "answer",
           "citations": []}
    _answer_with(page, old)
    shown = last_reply(page)
    assert shown.locator(".md").inner_text() == "Old body text." and shown.locator(".md hr").count() == 0
    assert shown.locator(".flags li").all_inner_texts() == ["Old flag"]
    assert shown.locator(".disclaimer").inner_text() == "Old disclaimer."


def test_a_clinic_sets_the_widgets_words_and_right_to_left(page, server_url, clinic):
    words = {"send": "إرسال", "placeholder": "اكتب سؤالك", "clear": "مسح المحادثة", "close": "إغلاق",
             "input": "سؤالك", "dir": "rtl", "unknown": "ignored"}
    clinic["page"] = (
        "<!doctype html><html lang=ar><title>Clinic</title><h1>Clinic</h1>"
        f'<script src="{server_url}/widget.js" data-title="اسأل" data-strings=\'{json.dumps(words)}\' async></script>'
    )
    page.goto(clinic["origin"] + "/")
    open_widget(page)
    assert shadow(page, ".send").inner_text() == "إرسال"
    assert shadow(page, "textarea").get_attribute("placeholder") == "اكتب سؤالك"
    assert shadow(page, "[aria-label='مسح المحادثة']").count() == 1
    assert shadow(page, ".root").get_attribute("dir") == "rtl"
    assert shadow(page, ".launcher").inner_text() == "إغلاق"  # open: the launcher closes it
    ask(page, "symptoms of tarsal tunnel syndrome", 0)
    panel, question = shadow(page, ".panel").bounding_box(), shadow(page, ".msg.user").last.bounding_box()
    assert question["x"] - panel["x"] < 40, (question, panel)  # the visitor's words on the right-to-left start side
    screenshot(page, "widget_rtl.png")


def test_the_text_box_grows_with_what_is_typed(page, server_url):
    page.goto(server_url + "/demo")
    open_widget(page)
    box = shadow(page, "textarea")
    before = box.bounding_box()["height"]
    box.press_sequentially("a long question " * 12 + "\n" * 0)
    grown = box.bounding_box()["height"]
    assert grown > before + 10, (before, grown)
    box.fill("")
    box.dispatch_event("input")
    assert box.bounding_box()["height"] <= before + 1
    assert shadow(page, ".launcher").get_attribute("aria-expanded") == "true"
    assert "Close" in shadow(page, ".launcher").inner_text()
