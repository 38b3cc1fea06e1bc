"""The HTTP API's response bodies, and how the routes document the answers they give.

Each model is what one route sends back (`ReplyOut` for a chat reply, `ErrorOut` for every
refusal); FastAPI builds /openapi.json from them. The request side, with its checks, is
schemas.py.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CitationOut(BaseModel):
    n: int
    id: str
    section: str = Field(description="The cited section's full heading path.")
    quote: str = Field(description="The cited words, exactly as they stand in the article.")
    score: float
    label: str = Field(description="How the reply names the section (with its article when there are several).")
    article_id: str
    article_title: str


class AlertOut(BaseModel):
    """Signs that need care now. Show it first, above everything else, and announce it as an alert."""

    level: Literal["emergency", "urgent"]
    message: str = Field(description="What to do now, in plain words.")
    signs: list[str] = Field(description="The signs that were recognised in the message.")


class NoticeOut(BaseModel):
    kind: str = Field(examples=["not_covered", "population"])
    text: str


class ReplyOut(BaseModel):
    """The reply's parts, each its own field; `answer` joins them as Markdown for simple clients
    (alert, body, red flags and disclaimer, in that order)."""

    answer: str
    body: str = Field(description="The answer to what was asked (Markdown with [n] citation markers).")
    kind: Literal["answer", "emergency", "urgent", "out_of_scope", "smalltalk"]
    alert: AlertOut | None
    citations: list[CitationOut]
    red_flags: list[str]
    red_flags_heading: str
    red_flags_source: list[str] = Field(description="Ids of the articles the red flags come from.")
    notices: list[NoticeOut]
    disclaimer: str


class ErrorDetail(BaseModel):
    code: str = Field(examples=["message_too_long"])
    message: str = Field(examples=["message has 2417 characters; the limit is 2000"])


class ErrorOut(BaseModel):
    error: ErrorDetail


class FeedbackOut(BaseModel):
    status: Literal["stored"]


class HealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok"]
    model: str
    chunks: int
    corpus_fingerprint: str


# How the routes document their other answers in /docs and /openapi.json.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in [(400, "Body is not UTF-8 JSON, or nests too deeply"), (413, "Body too large"),
                         (415, "Not application/json"),
                         (422, "A field is missing, unknown, of the wrong type or over its limit"),
                         (429, "Too many requests from this client (see Retry-After)")]
}
FEEDBACK_RESPONSES: dict[int | str, dict[str, Any]] = {**ERROR_RESPONSES, 503: {
    "model": ErrorOut, "description": "The rating could not be stored (storage_full: the disk is full); try later"}}
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {**ERROR_RESPONSES, 200: {
    "description": "`delta` events, then `meta` and `reply`; `error` if the reply fails part-way",
    "content": {"text/event-stream": {"example": (
        'event: delta\ndata: {"text": "**Section title** [1]\\n"}\n\n'
        'event: delta\ndata: {"text": "- first point\\n"}\n\n'
        'event: meta\ndata: {"message_id": "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99"}\n\n'
        'event: reply\ndata: {"answer": "...", "kind": "answer", "citations": [], '
        '"red_flags": [], "disclaimer": "..."}\n\n'
    )}},
}}
