"""The admin area at /admin: what patients asked, what went unanswered, curated answers.

    app.include_router(create_admin_router(bot, settings, store))

Off (every /admin path answers 404) unless CHATBOT_ADMIN_SECRET_HASH is set. Routes:

    GET  /admin/sign-in              the sign-in form           POST /admin/sign-in   check the secret
    POST /admin/sign-out             end the session
    GET  /admin                      the overview: totals, the largest unanswered groups, links
    GET  /admin/{unanswered,feedback,per-day,sections,signs,pins}   one paged list each (pages.py)
    GET  /admin/report.json          every list at once, as JSON
    GET  /admin/export/{name}.{csv|json}   name: feedback, replies, unanswered
    POST /admin/pins                 pin sections to a group    POST /admin/pins/{id}/delete

Without a valid session, pages and form posts answer 303 to the sign-in page and JSON or CSV
401. Every POST carries a CSRF token tied to its session (the sign-in form one tied to a
cookie of its own) and, when the browser names an Origin, it must be this site. Sign-in
attempts are limited per client and in all (`SignInLimits`). The session cookie is HttpOnly,
SameSite=Strict, limited to /admin, and Secure when the page is served over HTTPS.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from chatbot.config import Settings
from chatbot.errors import InvalidInput
from chatbot.serve.admin.auth import Sessions, check_hash, verify_secret
from chatbot.serve.admin.pages import add_pages
from chatbot.serve.admin.paging import NoSuchPage
from chatbot.serve.admin.report import EXPORTS, Review
from chatbot.serve.middleware import error_response
from chatbot.serve.ratelimit import RateLimiter, client_id
from chatbot.store.store import Store

log = logging.getLogger(__name__)
SESSION_COOKIE = "chatbot_admin"
SIGN_IN_COOKIE = "chatbot_admin_sign_in"
PREFIX = "/admin"
# same-origin: the browser then names this site in Origin on the forms' posts (no-referrer makes it "null").
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "same-origin"}
MAX_FORM_BYTES = 64 * 1024

templates = Environment(loader=PackageLoader("chatbot.serve.admin", "templates"), autoescape=select_autoescape(),
                        trim_blocks=True, lstrip_blocks=True)


class SignInLimits:
    """Sign-in attempts: a few a minute per client, and a cap for all clients together (this
    replica; nginx's limit_req on /admin/sign-in caps all replicas)."""

    def __init__(self, per_client: int = 5, overall: int = 30) -> None:
        self.per_client = RateLimiter(per_minute=per_client, burst=per_client)
        self.overall = RateLimiter(per_minute=overall, burst=max(1, overall // 3))

    def take(self, client: str) -> tuple[bool, int]:
        allowed, wait = self.per_client.take(client)
        if not allowed:
            return allowed, wait
        return self.overall.take("all")


class NotSignedIn(Exception):
    pass


class Refused(Exception):
    """A change without this session's CSRF token, or posted from another site."""


def create_admin_router(bot: Any, settings: Settings, store: Store, limits: SignInLimits | None = None) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    if not settings.admin_secret_hash:
        @router.api_route("{path:path}", methods=["GET", "POST", "HEAD"])
        async def off(path: str) -> JSONResponse:
            return error_response(404, "not_found", "the admin area is off (set CHATBOT_ADMIN_SECRET_HASH)")
        return router

    check_hash(settings.admin_secret_hash)
    review = Review(bot, store)
    limits = limits or SignInLimits()
    state: dict[str, Sessions] = {}

    def sessions() -> Sessions:
        if "sessions" not in state:
            state["sessions"] = Sessions.for_secret(store.shared_key("admin-session"), settings.admin_secret_hash)
        return state["sessions"]

    async def session_of(request: Request) -> str:
        found = (await anyio.to_thread.run_sync(sessions)).check(request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise NotSignedIn
        return found

    def secure(request: Request) -> bool:
        if settings.trust_proxy_headers and request.headers.get("x-forwarded-proto", "").lower() == "https":
            return True
        return request.url.scheme == "https"

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=status, headers=NO_STORE)

    def to_sign_in() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/sign-in", status_code=303, headers=NO_STORE)

    async def read_form(request: Request) -> dict[str, Any]:
        """The posted form, after checking it came from this site; lists for repeated fields."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
            raise Refused("posted from another site")
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
            raise InvalidInput("form_too_large", "the form is too large")
        form = await request.form(max_files=0, max_fields=500, max_part_size=MAX_FORM_BYTES)
        return {key: form.getlist(key) if len(form.getlist(key)) > 1 or key == "section" else form.get(key)
                for key in form}

    async def signed_in_change(request: Request) -> tuple[str, dict[str, Any]]:
        session_id = await session_of(request)
        form = await read_form(request)
        if not sessions().check_csrf(session_id, form.get("csrf")):
            raise Refused("missing or wrong CSRF token")
        return session_id, form

    # --- signing in and out -----------------------------------------------------------------
    @router.get("/sign-in")
    async def sign_in_page(request: Request) -> HTMLResponse:
        return await sign_in_form(request)

    async def sign_in_form(request: Request, status: int = 200, message: str = "") -> HTMLResponse:
        nonce = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(18)
        token = (await anyio.to_thread.run_sync(sessions)).csrf(f"sign-in:{nonce}")
        response = render("sign_in.html", status, csrf=token, message=message)
        response.set_cookie(SIGN_IN_COOKIE, nonce, max_age=3600, path=PREFIX, httponly=True, samesite="strict",
                            secure=secure(request))
        return response

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        peer = request.client.host if request.client else None
        allowed, wait = limits.take(client_id(request.headers, peer, settings.trust_proxy_headers))
        if not allowed:
            response = await sign_in_form(request, 429, f"Too many sign-in attempts. Try again in {wait} s.")
            response.headers["Retry-After"] = str(wait)
            return response
        form = await read_form(request)
        nonce = request.cookies.get(SIGN_IN_COOKIE, "")
        if not nonce or not sessions().check_csrf(f"sign-in:{nonce}", form.get("csrf")):
            return await sign_in_form(request, 403, "The form had expired. Please sign in again.")
        secret = form.get("secret") if isinstance(form.get("secret"), str) else ""
        if not secret or not await anyio.to_thread.run_sync(verify_secret, secret, settings.admin_secret_hash):
            log.warning("A failed admin sign-in")
            return await sign_in_form(request, 401, "That secret is not right.")
        response = RedirectResponse(PREFIX, status_code=303, headers=NO_STORE)
        response.set_cookie(SESSION_COOKIE, sessions().issue(), max_age=sessions().lifetime, path=PREFIX,
                            httponly=True, samesite="strict", secure=secure(request))
        response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        await signed_in_change(request)
        response = to_sign_in()
        response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure(request))
        return response

    # --- what it shows ----------------------------------------------------------------------
    async def signed_in(request: Request) -> str:
        """The session's CSRF token, for the forms on a page; NotSignedIn without a session."""
        return sessions().csrf(await session_of(request))

    add_pages(router, review, signed_in=signed_in, render=render)

    @router.get("/report.json")
    async def report_json(request: Request) -> JSONResponse:
        await session_of(request)
        data = await anyio.to_thread.run_sync(review.page)
        return JSONResponse(json.loads(json.dumps(data, default=str)), headers=NO_STORE)

    @router.get("/export/{name}.{fmt}")
    async def export(request: Request, name: str, fmt: str) -> Response:
        await session_of(request)
        if name not in EXPORTS or fmt not in ("csv", "json"):
            return error_response(404, "not_found", f"no export {name}.{fmt}; try {', '.join(EXPORTS)} as csv or json")
        columns, rows = await anyio.to_thread.run_sync(review.export, name)
        headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
        if fmt == "json":
            body = json.dumps([{c: row.get(c) for c in columns} for row in rows], ensure_ascii=False, default=str)
            return Response(body, media_type="application/json", headers=headers)
        return Response(to_csv(columns, rows), media_type="text/csv; charset=utf-8", headers=headers)

    # --- changes ----------------------------------------------------------------------------
    @router.post("/pins")
    async def pin(request: Request) -> Response:
        _, form = await signed_in_change(request)
        keys = [k for k in str(form.get("keys") or "").split(",") if k][:500]
        sections = [s for s in form.get("section") or [] if isinstance(s, str)]
        if isinstance(form.get("extra"), str) and form["extra"]:
            sections.append(form["extra"])
        try:
            await anyio.to_thread.run_sync(partial(review.make_pin, str(form.get("label") or ""), keys, sections))
        except InvalidInput as problem:
            return render("message.html", 422, title="The pin was not saved", message=str(problem))
        return RedirectResponse(f"{PREFIX}/pins?done=pinned", status_code=303, headers=NO_STORE)

    @router.post("/pins/{pin_id}/delete")
    async def unpin(request: Request, pin_id: int) -> Response:
        await signed_in_change(request)
        await anyio.to_thread.run_sync(review.delete_pin, pin_id)
        return RedirectResponse(f"{PREFIX}/pins?done=unpinned", status_code=303, headers=NO_STORE)

    return router


def add_admin(app: Any, bot: Any, settings: Settings, store: Store) -> None:
    """Mount the admin area on `app` (before the chat page's catch-all mount)."""
    app.include_router(create_admin_router(bot, settings, store))
    install_admin_errors(app)
    app.state.store = store


def install_admin_errors(app: Any) -> None:
    """How the admin area refuses: pages to the sign-in form, data with 401, bad tokens 403."""

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if request.method == "GET" and request.url.path.endswith((".json", ".csv")):
            return error_response(401, "not_signed_in", "sign in at /admin/sign-in first")
        return RedirectResponse(f"{PREFIX}/sign-in", status_code=303, headers=NO_STORE)

    @app.exception_handler(NoSuchPage)
    async def no_such_page(request: Request, exc: NoSuchPage) -> HTMLResponse:
        html = templates.get_template("message.html").render(title="No such page", message=str(exc))
        return HTMLResponse(html, status_code=400, headers=NO_STORE)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> HTMLResponse:
        log.warning("An admin change was refused: %s", exc)
        html = templates.get_template("message.html").render(
            title="Not saved", message="This form had expired or did not come from the admin page. Please reload it.")
        return HTMLResponse(html, status_code=403, headers=NO_STORE)


def to_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """CSV that a spreadsheet opens safely: a cell that starts like a formula is quoted with '."""
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
