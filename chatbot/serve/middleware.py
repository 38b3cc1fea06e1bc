"""What wraps every response: security headers, and CORS for the API routes only.

    add_middleware(app, settings)   # after the routes and mounts, in create_app

- Security headers on every page and API response, unless a route set its own: a
  Content-Security-Policy that the Gradio page works under (it needs inline scripts and
  styles; everything else comes from this origin), `frame-ancestors` from
  `settings.frame_ancestors` with X-Frame-Options saying the same where it can,
  X-Content-Type-Options, Referrer-Policy and Permissions-Policy.
- CORS only under /api/, for `settings.allowed_origins` (none by default: same origin
  only). A refused preflight gets the API's error body rather than plain text.

`error_response` is the one error body of the API: {"error": {"code": ..., "message": ...}}.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatbot.config import Settings

API_PREFIX = "/api/"
_SOURCE = re.compile(r"[A-Za-z0-9'*:/._+-]+")


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added last = runs first: security headers wrap everything, CORS answers inside them.
    if settings.allowed_origins:
        app.add_middleware(ApiCORS, allow_origins=list(settings.allowed_origins))
    app.add_middleware(SecurityHeaders, headers=security_headers(settings))


def security_headers(settings: Settings) -> dict[str, str]:
    # Only plain source expressions: a stray ";" in the setting must not add directives.
    ancestors = " ".join(s for s in settings.frame_ancestors if _SOURCE.fullmatch(s)) or "'none'"
    csp = "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # Gradio puts its config in an inline script
        "style-src 'self' 'unsafe-inline'",  # and sets styles inline
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    # X-Frame-Options can only say "nobody" or "same origin"; for a list of sites it is left
    # out, since browsers that know frame-ancestors ignore it and the rest would block the sites.
    frame_options = {("'none'",): "DENY", ("'self'",): "SAMEORIGIN"}.get(tuple(ancestors.split()))
    if frame_options:
        headers["X-Frame-Options"] = frame_options
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ApiCORS(CORSMiddleware):
    """Starlette's CORS, applied under /api/ only: the page and widget files need none."""

    def __init__(self, app: ASGIApp, allow_origins: list[str]) -> None:
        super().__init__(
            app, allow_origins=allow_origins, allow_methods=["POST"], allow_headers=["Content-Type"],
            expose_headers=["X-Message-Id", "Retry-After"], max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code >= 400:
            reason = bytes(response.body).decode("utf-8", "replace")
            return error_response(403, "cors_rejected", f"cross-origin request refused: {reason}", {"Vary": "Origin"})
        return response
