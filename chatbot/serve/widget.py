"""The clinic website widget, served to clinics' pages.

    GET /widget.js   the script a clinic pastes (one <script> tag), with this server's
                     settings and the bot's own wording (greeting, disclaimer, example
                     questions) filled in, minified once at start (rjsmin: comments and
                     whitespace out; the source stays readable)
    GET /embed       a full-page chat for an <iframe>; its CSP `frame-ancestors` comes from
                     `settings.frame_ancestors`
    GET /demo        a demo clinic page with deliberately hostile CSS, showing the snippet
                     in place and as text to copy

The server includes it with `app.include_router(create_router(settings, lambda: bot.wording))`:
the wording is read on each request, so after a live index swap (live.py) the next request
gets the new bot's greeting and examples. The script is built once per wording and kept
(`ServedScript`), so a request costs a comparison, not a rebuild.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import rjsmin
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from chatbot.answer.safety import load_safety_rules
from chatbot.answer.wording import Wording, load_phrases
from chatbot.config import Settings

CONFIG_SLOT = "/*@server-config*/null"
# Clinics paste an unversioned URL: a short cache life, then a cheap revalidation (ETag).
SCRIPT_CACHE = "public, max-age=300, stale-while-revalidate=86400"
DEFAULTS = {
    "title": "Ask a question",
    "color": "#0b6e4f",
    "greeting": "Hi! Ask me a question about the articles I answer from.",  # the bot's own greeting replaces it
    "position": "right",
}
# A CSP source expression: a keyword ('self'), a scheme (https:) or a host with optional scheme/port/path.
_CSP_SOURCE = re.compile(
    r"^(?:'[a-z-]+'|[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?[\w.*-]+(?::(?:\d+|\*))?(?:/[\w./-]*)?)$", re.I
)


STARTERS = 3  # example questions offered before the first message, on the page and in the widget


def starter_questions(wording: Wording) -> list[str]:
    return list(wording.examples[:STARTERS])


def static_text(name: str) -> str:
    return resources.files("chatbot.serve").joinpath("static", name).read_text(encoding="utf-8")


NO_WORDING = Wording("", "the articles", (), 1)  # a router made without a bot


def bot_greeting(wording: Wording | None) -> str:
    return (wording or NO_WORDING).fill(load_phrases()["smalltalk"]["greeting"])


def server_config(settings: Settings, wording: Wording | None = None) -> dict:
    """What the widget takes from the server: its limits and the bot's own wording."""
    rules = load_safety_rules()
    wording = wording or NO_WORDING
    return {
        "greeting": bot_greeting(wording),
        "disclaimer": rules.disclaimer,
        "redFlagHeading": rules.data["red_flags"]["heading"],
        "redFlags": list(rules.data["red_flags"]["fallback"]),
        "starters": starter_questions(wording),
        "maxMessageChars": settings.max_message_chars,
        "maxHistoryTurns": settings.max_history_turns,
        "maxHistoryBytes": settings.max_history_bytes,
    }


def widget_script(settings: Settings, wording: Wording | None = None) -> bytes:
    source = static_text("widget.js")
    if CONFIG_SLOT not in source:
        raise RuntimeError(f"widget.js has lost its {CONFIG_SLOT} slot")
    filled = source.replace(CONFIG_SLOT, json.dumps(server_config(settings, wording), separators=(",", ":")), 1)
    return minify(filled).encode("utf-8")


def minify(script: str) -> str:
    """Comments and spare whitespace out; strings, template literals and regular expressions kept."""
    return rjsmin.jsmin(script, keep_bang_comments=False).strip() + "\n"


def frame_ancestors(settings: Settings) -> str:
    """The CSP `frame-ancestors` value; anything that is not a source expression is dropped,
    so a bad setting cannot inject other directives."""
    sources = [s for s in settings.frame_ancestors if _CSP_SOURCE.match(s)]
    return " ".join(sources) or "'none'"


def embed_csp(settings: Settings) -> str:
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        f"style-src {_style_hash('embed.html')}",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {frame_ancestors(settings)}",
    ])


@cache
def _style_hash(template: str) -> str:
    """CSP hash of the page's one inline <style> block."""
    match = re.search(r"<style>(.*?)</style>", static_text(template), re.S)
    digest = hashlib.sha256(match.group(1).encode("utf-8")).digest() if match else b""
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def snippet(widget_url: str, **attributes: str) -> str:
    """The <script> tag a clinic pastes, laid out as in the docs."""
    a = {key: html.escape(value, quote=True) for key, value in {**DEFAULTS, **attributes}.items()}
    return (
        f'<script src="{html.escape(widget_url, quote=True)}" data-title="{a["title"]}"\n'
        f'        data-color="{a["color"]}" data-greeting="{a["greeting"]}"\n'
        f'        data-position="{a["position"]}" async></script>'
    )


def render(template: str, **values: str) -> str:
    page = static_text(template)
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", value)
    return page


@cache
def _hostile_css() -> str:
    """The demo page's hostile rules, shown on the page as text."""
    match = re.search(r'<style id="hostile">\n(.*?)</style>', static_text("demo.html"), re.S)
    return match.group(1).strip() if match else ""


def _clip(value: str | None, default: str) -> str:
    return (value or default)[:200]


@dataclass(frozen=True)
class Built:
    """What the widget routes serve for one wording."""

    wording: Wording | None
    script: bytes
    etag: str
    greeting: str


class ServedScript:
    """widget.js and the greeting for the wording in use, built again only when it changes (a
    new bot after an index swap brings a new wording; the same bot, the very same object)."""

    def __init__(self, settings: Settings, wording: Wording | Callable[[], Wording] | None) -> None:
        self.settings = settings
        self._wording = wording if callable(wording) else (lambda: wording)
        self._built: Built | None = None
        self.builds = 0

    def current(self) -> Built:
        wording, built = self._wording(), self._built
        if built is not None and (built.wording is wording or built.wording == wording):
            return built
        script = widget_script(self.settings, wording)
        built = Built(wording, script, '"' + hashlib.sha256(script).hexdigest()[:32] + '"', bot_greeting(wording))
        self._built, self.builds = built, self.builds + 1  # one assignment: readers see old or new
        return built


def create_router(settings: Settings | None = None,
                  wording: Wording | Callable[[], Wording] | None = None) -> APIRouter:
    """`wording`: the bot's wording, or a function returning the current bot's (read on each request)."""
    settings = settings or Settings.load()
    served = ServedScript(settings, wording)
    served.current()  # built at start: a broken widget.js fails here, not on a visitor's request
    csp = embed_csp(settings)
    router = APIRouter(tags=["widget"])

    @router.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
    def widget_js(request: Request) -> Response:
        built = served.current()
        etag = built.etag
        headers = {
            "Cache-Control": SCRIPT_CACHE,
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
            # Any clinic's page may load it, also pages that require CORS or CORP for scripts.
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(built.script, media_type="text/javascript; charset=utf-8", headers=headers)

    @router.api_route("/embed", methods=["GET", "HEAD"], include_in_schema=False)
    def embed(request: Request, title: str | None = None, color: str | None = None,
              greeting: str | None = None) -> HTMLResponse:
        page = render(
            "embed.html",
            widget_url=html.escape(str(request.url_for("widget_js")), quote=True),
            title=html.escape(_clip(title, DEFAULTS["title"]), quote=True),
            color=html.escape(_clip(color, DEFAULTS["color"]), quote=True),
            greeting=html.escape(_clip(greeting, served.current().greeting), quote=True),
        )
        return HTMLResponse(page, headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        })

    @router.api_route("/demo", methods=["GET", "HEAD"], include_in_schema=False)
    def demo(request: Request) -> HTMLResponse:
        tag = snippet(str(request.url_for("widget_js")))
        embed_url = str(request.url_for("embed"))
        iframe = (
            f'<iframe src="{html.escape(embed_url, quote=True)}" title="{DEFAULTS["title"]}"\n'
            '        width="400" height="640"></iframe>'
        )
        page = render(
            "demo.html", snippet=tag, snippet_text=html.escape(tag), iframe_text=html.escape(iframe),
            hostile_css=html.escape(_hostile_css()),
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    return router

