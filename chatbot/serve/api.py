"""The web app: the chat page at /, the HTTP API under /api, /healthz, docs at /docs.

    app = create_app(bot, settings)     # build (tests use this with TestClient)
    uvicorn.run(app, ...)               # run (app.py)

Routes:

- POST /api/chat          {"message", "history"?} -> the reply JSON (`Reply.to_dict()`), with
                          the reply's message id in the X-Message-Id header.
- POST /api/chat/stream   the same, as Server-Sent Events: `delta` {"text"} pieces that join
                          to the answer, then `meta` {"message_id"}, then `reply` (the reply
                          JSON); `error` {"error": {...}} if it fails part-way.
- POST /api/feedback      {"rating": "up"|"down", "message_id" | "question"+"answer",
                          "comment"?} -> 201.
- GET  /healthz           the index summary and "status": "ok".

Every bad request gets a 4xx with {"error": {"code", "message"}}, before any streaming
starts; malformed or too deeply nested bodies get 400, wrong content types 415, too large
bodies 413 (read no further than the limit), fields that are wrong 422, too many requests 429
with Retry-After, any other method on an API route 405 with Allow. Feedback that cannot be
stored (a full disk) gets 503.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from importlib import resources
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from chatbot import __doc__ as package_doc
from chatbot.bot import Chatbot
from chatbot.config import Settings
from chatbot.errors import InvalidInput
from chatbot.serve.admin import add_admin
from chatbot.serve.feedback import FeedbackStore, StorageError
from chatbot.serve.middleware import add_middleware, error_response
from chatbot.serve.ratelimit import RateLimiter, client_id
from chatbot.serve.responses import (
    ERROR_RESPONSES,
    FEEDBACK_RESPONSES,
    STREAM_RESPONSES,
    FeedbackOut,
    HealthOut,
    ReplyOut,
)
from chatbot.serve.schemas import (
    ChatRequest,
    FeedbackRequest,
    check_chat,
    check_content_type,
    check_feedback,
    parse_request,
    request_schemas,
)
from chatbot.serve.sse import pull, sse
from chatbot.serve.widget import create_router

log = logging.getLogger(__name__)
STATUS = {"invalid_json": 400, "invalid_utf8": 400, "invalid_content_length": 400, "nesting_too_deep": 400,
          "body_too_large": 413, "unsupported_media_type": 415, "rate_limited": 429, "not_found": 404,
          "method_not_allowed": 405}


class HttpError(Exception):
    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.headers = code, message, headers or {}


def create_app(bot: Chatbot, settings: Settings, *, feedback: FeedbackStore | None = None) -> FastAPI:
    app = FastAPI(
        title=f"Patient-education chatbot: {bot.wording.covers}", version="1",
        description=(package_doc or "").split("\n")[0],
        docs_url=None, redoc_url=None,
    )
    feedback = feedback or FeedbackStore.from_settings(settings)
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    # A pool of its own, so a burst of chats cannot starve the page's and the server's threads.
    threads = anyio.CapacityLimiter(settings.reply_concurrency)

    def take_token(request: Request) -> None:
        peer = request.client.host if request.client else None
        allowed, wait = limiter.take(client_id(request.headers, peer, settings.trust_proxy_headers))
        if not allowed:
            raise HttpError("rate_limited", f"too many requests; try again in {wait} s", {"Retry-After": str(wait)})

    async def read_chat(request: Request) -> ChatRequest:
        chat = parse_request(ChatRequest, await _read_body(request, settings.max_body_bytes),
                             request.headers.get("content-type"))
        check_chat(chat, settings)
        return chat

    @app.post("/api/chat", tags=["chat"], response_model=ReplyOut, responses=ERROR_RESPONSES,
              openapi_extra=_body("ChatRequest"), summary="Answer a question")
    async def chat(request: Request) -> JSONResponse:
        """The reply to `message`, given the conversation so far. Its id (for feedback) is in X-Message-Id."""
        take_token(request)
        question = await read_chat(request)
        reply = await anyio.to_thread.run_sync(bot.reply, question.message, question.history_dicts(), limiter=threads)
        message_id = uuid.uuid4().hex
        feedback.remember(message_id, question.message, reply)
        return JSONResponse(reply.to_dict(), headers={"X-Message-Id": message_id, "Cache-Control": "no-store"})

    @app.post("/api/chat/stream", tags=["chat"], responses=STREAM_RESPONSES, openapi_extra=_body("ChatRequest"),
              summary="Answer a question, streamed as Server-Sent Events")
    async def chat_stream(request: Request) -> StreamingResponse:
        """Validation errors come back as ordinary JSON errors, before the stream starts."""
        take_token(request)
        question = await read_chat(request)
        events = bot.stream(question.message, question.history_dicts())
        # The first pieces are computed before answering, so a failure there still gets a JSON error.
        first = await anyio.to_thread.run_sync(pull, events, limiter=threads)
        message_id = uuid.uuid4().hex
        remember = partial(feedback.remember, message_id, question.message)
        return StreamingResponse(
            sse(first, events, message_id, remember, threads), media_type="text/event-stream",
            headers={"X-Message-Id": message_id, "Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/feedback", tags=["feedback"], status_code=201, response_model=FeedbackOut,
              responses=FEEDBACK_RESPONSES, openapi_extra=_body("FeedbackRequest"), summary="Rate a reply")
    async def rate(request: Request) -> JSONResponse:
        """Thumbs up or down, by message id or by question and answer. No personal data is stored."""
        take_token(request)
        body = parse_request(FeedbackRequest, await _read_body(request, settings.max_body_bytes),
                             request.headers.get("content-type"))
        check_feedback(body, settings)
        await anyio.to_thread.run_sync(partial(
            feedback.add, body.rating, message_id=body.message_id, question=body.question,
            answer=body.answer, comment=body.comment, source="api",
        ))
        return JSONResponse({"status": "stored"}, status_code=201)

    @app.get("/healthz", tags=["health"], response_model=HealthOut, summary="Is the server up, on which index")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", **bot.index.summary()}, headers={"Cache-Control": "no-store"})

    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)  # for load balancers

    _add_fallbacks(app)
    _add_error_handlers(app)
    _add_docs(app, settings)
    app.include_router(create_router(settings, lambda: bot.wording))  # /widget.js, /embed, /demo; read per request
    add_admin(app, bot, settings, feedback.store)  # /admin
    _mount_page(app, bot, settings, feedback, limiter)
    add_middleware(app, settings)
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, reading no more than `limit` bytes whatever Content-Length says (or omits)."""
    check_content_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HttpError("invalid_content_length", f"Content-Length {declared!r} is not a number")
        if int(declared) > limit:
            raise HttpError("body_too_large", f"the body has {declared} bytes; the limit is {limit}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HttpError("body_too_large", f"the body is over the limit of {limit} bytes")
    except ClientDisconnect:
        # The client went away (or the server closed a body that stalled): nobody reads the answer.
        raise HttpError("client_disconnected", "the client closed the connection before sending the body") from None
    return bytes(body)


def _body(schema: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


def _add_fallbacks(app: FastAPI) -> None:
    """Unknown /api paths and wrong methods, any method at all (TRACE, QUERY ...), get the API's
    error body, not the page's 404: these routes match every method, after the API's own."""
    own = [route for route in app.routes if isinstance(route, APIRoute)]  # before the fallbacks join them
    fallback = _Fallback(own)
    # An endpoint that is an ASGI app, not a function, makes Starlette match every method.
    app.router.routes += [Route("/api/{path:path}", fallback), Route("/healthz", fallback)]


class _Fallback:
    def __init__(self, routes: list[APIRoute]) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        allowed = sorted({m for route in self.routes if route.path_regex.match(path) for m in route.methods})
        if allowed:
            response = error_response(405, "method_not_allowed", f"{scope['method']} is not allowed here; use "
                                      f"{', '.join(allowed)}", {"Allow": ", ".join(allowed)})
        else:
            response = error_response(404, "not_found", f"there is no API route {path}; see /docs")
        await response(scope, receive, send)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HttpError)
    async def http_error(request: Request, exc: HttpError) -> JSONResponse:
        return error_response(STATUS.get(exc.code, 400), exc.code, exc.message, exc.headers)

    @app.exception_handler(InvalidInput)
    async def invalid_input(request: Request, exc: InvalidInput) -> JSONResponse:
        return error_response(STATUS.get(exc.code, 422), exc.code, str(exc))

    @app.exception_handler(StorageError)
    async def storage_error(request: Request, exc: StorageError) -> JSONResponse:
        # One line, no traceback: the cause is the disk, not the request (feedback.py says which).
        log.error("Feedback not stored: %s", exc)
        return error_response(503, exc.code, exc.public_message, {"Retry-After": "60"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        return error_response(422, "invalid_request", str(first.get("msg")))

    @app.exception_handler(HTTPException)
    async def http_exception(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "something went wrong on the server; please try again")


def _add_docs(app: FastAPI, settings: Settings) -> None:
    """Swagger UI at /docs from files served here, so the docs work without internet."""
    assets = resources.files("fastapi_swagger") / "resources"
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=f"{app.title} - API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js", swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(request_schemas(settings))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_page(app: FastAPI, bot: Chatbot, settings: Settings, feedback: FeedbackStore,
                limiter: RateLimiter) -> None:
    from chatbot.serve.ui import (  # chatbot.serve.ui loads Gradio only after go_offline()
        CSS,
        HEAD,
        THEME,
        create_ui,
        gr,
    )

    page = create_ui(bot, settings, feedback=feedback, limiter=limiter)
    gr.mount_gradio_app(
        app, page, path="/", theme=THEME, css=CSS, head=HEAD, footer_links=[], ssr_mode=False, show_error=False,
        run_history=False, pwa=False, mcp_server=False,
    )

