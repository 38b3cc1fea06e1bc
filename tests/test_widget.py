"""The clinic widget's routes and script, without a browser (see test_widget_e2e.py for that)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import re
from importlib import resources

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chatbot.answer.safety import load_safety_rules
from chatbot.answer.wording import Wording
from chatbot.config import Settings
from chatbot.serve.widget import CONFIG_SLOT, create_router, frame_ancestors, minify, server_config

SOURCE = resources.files("chatbot.serve").joinpath("static", "widget.js").read_text(encoding="utf-8")
MAX_BYTES = 30 * 1024  # what a clinic's visitors download, minified
MAX_GZIP_BYTES = 11 * 1024  # and over the wire
# The source is written to be read (comments, names, layout) and is minified when served: its
# own budget is larger, and still bounded so that the widget stays small.
MAX_SOURCE_BYTES = 40 * 1024


def client(settings: Settings | None = None, wording: Wording | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(create_router(settings or Settings(), wording))
    return TestClient(app)


@pytest.fixture(scope="module")
def web() -> TestClient:
    return client()


def served_config(script: str) -> dict:
    match = re.search(r"const SERVER\s*=\s*(\{.*?\});", script)
    assert match, "the server config was not filled in"
    return json.loads(match.group(1))


# --- /widget.js ---------------------------------------------------------------------------------
def test_widget_js_is_served_as_javascript_and_small(web):
    response = web.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.content) < MAX_BYTES, f"widget.js is {len(response.content)} bytes"
    assert len(gzip.compress(response.content, 9)) < MAX_GZIP_BYTES
    assert len(SOURCE.encode()) < MAX_SOURCE_BYTES


def test_the_served_script_is_minified_and_keeps_its_literals(web):
    served = web.get("/widget.js").text
    assert len(served) < 0.85 * len(SOURCE)
    assert "/*" not in served and "\n  " not in served  # comments and indentation out
    # The style sheet (a template literal), strings with "//" and regular expressions survive whole.
    styles = re.search(r"const STYLES = (`.*?`);", SOURCE, re.S).group(1)
    assert styles in served
    for literal in ['"http://www.w3.org/2000/svg"', r"/^[-*+]\s+(.*)$/", r"/\{(\w+)\}/g"]:
        assert literal in SOURCE and literal in served, literal


def test_minify_keeps_strings_and_drops_comments():
    script = 'const a = "x // y"; /* gone */ const b = `  two\n  lines `; // gone too\nconst r = /a\\/b/g;'
    out = minify(script)
    assert '"x // y"' in out and "`  two\n  lines `" in out and "/a\\/b/g" in out and "gone" not in out


def test_widget_js_caching(web):
    first = web.get("/widget.js")
    assert "max-age=" in first.headers["cache-control"] and "public" in first.headers["cache-control"]
    etag = first.headers["etag"]
    again = web.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert web.head("/widget.js").status_code == 200


def test_widget_js_carries_the_servers_limits_and_wording(web):
    script = web.get("/widget.js").text
    assert CONFIG_SLOT not in script
    config = served_config(script)
    rules = load_safety_rules()
    assert config["disclaimer"] == rules.disclaimer
    assert config["starters"] == []  # no wording given: no example questions to offer
    wording = Wording("the assistant", "boots", ("How do I dry wet boots?",), 1)
    own = served_config(client(Settings(), wording).get("/widget.js").text)
    assert own["starters"] == ["How do I dry wet boots?"] and "boots" in own["greeting"]
    assert (config["maxHistoryTurns"], config["maxHistoryBytes"], config["maxMessageChars"]) == (20, 16384, 2000)
    custom = served_config(client(Settings(max_history_turns=6, max_message_chars=500)).get("/widget.js").text)
    assert (custom["maxHistoryTurns"], custom["maxMessageChars"]) == (6, 500)


def test_the_script_is_built_again_only_when_the_wording_changes():
    from chatbot.serve.widget import ServedScript

    boots = Wording("the assistant", "boots", ("How do I dry wet boots?",), 1)
    in_use = [boots]
    served = ServedScript(Settings(), lambda: in_use[0])
    first = served.current()
    assert served.current() is first and served.builds == 1  # the same bot: nothing rebuilt
    in_use[0] = Wording("the assistant", "boots", ("How do I dry wet boots?",), 1)
    assert served.current() is first and served.builds == 1  # equal words from a new bot: nothing rebuilt either
    in_use[0] = Wording("the assistant", "bicycles", ("How do I oil a chain?",), 1)
    second = served.current()
    assert served.builds == 2 and second.etag != first.etag and "bicycles" in second.greeting
    assert served_config(second.script.decode())["starters"] == ["How do I oil a chain?"]
    assert served.current() is second


def test_the_plain_file_works_without_the_server_config():
    assert SOURCE.count(CONFIG_SLOT) == 1
    assert CONFIG_SLOT not in minify(SOURCE.replace(CONFIG_SLOT, "{}"))
    assert set(server_config(Settings())) <= set(re.findall(r"^    (\w+):", SOURCE, re.M))


@pytest.mark.parametrize("sink", [
    "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser",
    "createContextualFragment", "srcdoc", "setHTML", "javascript:",
])
def test_no_html_sinks_in_the_script(sink):
    """Server and visitor text only become text nodes; the browser test checks the same live."""
    assert sink not in SOURCE


def test_script_stays_self_contained():
    assert "import " not in SOURCE and "require(" not in SOURCE
    # One global: window.AnkleChat; everything else is inside the function.
    assert re.findall(r"window\.(\w+)\s*=", SOURCE) == ["AnkleChat"]
    assert SOURCE.lstrip().startswith("/*") and "(() => {" in SOURCE and SOURCE.rstrip().endswith("})();")


# --- /embed -------------------------------------------------------------------------------------
def csp(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


def test_embed_frame_ancestors_come_from_settings():
    settings = Settings(frame_ancestors=("'self'", "https://clinic.example", "https://*.clinic.example"))
    response = client(settings).get("/embed")
    assert response.status_code == 200
    assert csp(response)["frame-ancestors"] == "'self' https://clinic.example https://*.clinic.example"
    assert csp(client().get("/embed"))["frame-ancestors"] == "'self'"


def test_embed_frame_ancestors_cannot_inject_directives():
    settings = Settings(frame_ancestors=("https://ok.example", "https://x.example; script-src *", "'none' \n"))
    assert frame_ancestors(settings) == "https://ok.example"
    assert frame_ancestors(Settings(frame_ancestors=())) == "'none'"
    policy = client(settings).get("/embed").headers["content-security-policy"]
    assert "script-src *" not in policy and policy.count("script-src") == 1


def test_embed_page_is_strict_and_loads_the_widget_inline(web):
    response = web.get("/embed")
    policy = csp(response)
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
    page = response.text
    assert 'data-mode="inline"' in page and 'src="http://testserver/widget.js"' in page
    assert 'name="viewport"' in page
    # The page's one inline style block is allowed by its hash, nothing else inline.
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy["style-src"] == f"'sha256-{digest}'"
    assert "<script>" not in page


def test_embed_options_are_escaped(web):
    attack = '"><script>alert(1)</script>'
    page = web.get("/embed", params={"title": attack, "color": attack, "greeting": attack}).text
    assert "<script>alert(1)" not in page
    assert page.count(html.escape(attack, quote=True)) >= 3


# --- /demo --------------------------------------------------------------------------------------
def test_demo_page_shows_the_snippet_in_place_and_as_text(web):
    response = web.get("/demo")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    tag = (
        '<script src="http://testserver/widget.js" data-title="Ask a question"\n'
        '        data-color="#0b6e4f" data-greeting="Hi! Ask me a question about the articles I answer from."\n'
        '        data-position="right" async></script>'
    )
    assert tag in page  # the real tag, in place
    assert html.escape(tag) in page  # and as text to copy
    assert html.escape('<iframe src="http://testserver/embed"') in page
    assert "{{" not in page


def test_demo_page_css_is_hostile(web):
    page = web.get("/demo").text
    hostile = re.search(r'<style id="hostile">(.*?)</style>', page, re.S).group(1)
    rules = [
        "body * { all: unset; }", 'button, [type="submit"], [role="button"] { display: none !important; }',
        "div { position: absolute !important;", "html { font-size: 26px !important; }", "outline: none !important",
    ]
    for rule in rules:
        assert rule in hostile
    assert html.escape("div { position: absolute !important;") in page  # listed on the page too


# --- wiring -------------------------------------------------------------------------------------
def test_the_app_includes_the_widget(fake_bot, tmp_path):
    from chatbot.serve.api import create_app

    web = TestClient(create_app(fake_bot, Settings(data_dir=tmp_path, frame_ancestors=("https://clinic.example",))))
    assert web.get("/widget.js").headers["content-type"] == "text/javascript; charset=utf-8"
    assert "frame-ancestors https://clinic.example" in web.get("/embed").headers["content-security-policy"]
    assert web.get("/demo").status_code == 200
