"""The HTTP API's request shapes, and how a raw request body becomes a request.

Parsing is strict and says what is wrong: a body that is not UTF-8 JSON or nests deeper than
any request can, a field of the wrong type, a missing or unknown field, a role other than
user/assistant, a blank or too long message, a history over its limits. Each problem raises
`InvalidInput(code, message)`; the HTTP layer (api.py) picks the status code from `code`.

    request = parse_request(ChatRequest, body, content_type)
    check_chat(request, settings)

`request_schemas(settings)` gives the request bodies' JSON Schemas with the same limits the
checks enforce (lengths from settings, the non-blank rule, the message id's form, feedback's
"message_id, or question and answer"), so a request the schema accepts is one the server takes.
The response shapes are in responses.py.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbot.config import Settings
from chatbot.errors import InvalidInput

MAX_ANSWER_CHARS = 20_000  # a rated answer is one of ours: a few KB at most
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MESSAGE_ID = f"^{_MESSAGE_ID.pattern}$"  # in the schema; the server matches the whole string
# A request body is an object, its history a list of objects: 3 levels. Deeper bodies are
# refused before parsing, so nesting cannot exhaust the parser's recursion (thousands of "[").
MAX_NESTING = 16


def _whitespace_class() -> str:
    """A character class of exactly what `str.strip()` removes, spelled in \\uXXXX escapes so
    Python, JavaScript and JSON Schema validators read it alike (their `\\s` differ)."""
    spaces = [c for c in range(0x3001) if chr(c).isspace()]  # none lies above U+3000
    ranges: list[list[int]] = []
    for c in spaces:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return "".join(f"\\u{a:04x}" + (f"-\\u{b:04x}" if b > a else "") for a, b in ranges)


NOT_BLANK = f"[^{_whitespace_class()}]"  # somewhere a character that is not whitespace
_NOT_BLANK = re.compile(NOT_BLANK)
_SURROGATE = re.compile("[\ud800-\udfff]")
_EXPECTED = {"string_type": "a string", "list_type": "a list", "model_type": "an object", "dict_type": "an object"}
_JSON_TYPES = {"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean", "NoneType": "null",
               "list": "a list", "dict": "an object"}

Model = TypeVar("Model", bound=BaseModel)


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"message": "What can I do at home to ease it?"},
        {"message": "How is it treated?", "history": [
            {"role": "user", "content": "What causes it?"},
            {"role": "assistant", "content": "(the previous answer)"},
        ]},
    ]})
    message: str = Field(description="The question (default limit 2,000 characters; not blank).")
    history: list[HistoryTurn] | None = Field(
        default=None, description="The conversation so far, oldest first (default limits 20 turns, 16 KB).",
    )

    def history_dicts(self) -> list[dict[str, str]]:
        return [{"role": turn.role, "content": turn.content} for turn in self.history or []]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"message_id": "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99", "rating": "up"},
        {"question": "What helps?", "answer": "(the answer as shown)", "rating": "down", "comment": "Too long"},
    ]})
    rating: Literal["up", "down"]
    message_id: str | None = Field(default=None, description="From the X-Message-Id header of a chat reply.")
    question: str | None = Field(default=None, description="With `answer`, instead of `message_id`.")
    answer: str | None = None
    comment: str | None = Field(default=None, description="Optional (default limit 1,000 characters).")


def parse_request(model: type[Model], body: bytes, content_type: str | None) -> Model:
    """Bytes from the wire -> a validated `model`, or `InvalidInput` saying what is wrong."""
    check_content_type(content_type)
    if not body.strip():
        raise InvalidInput("invalid_json", "the request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("invalid_utf8", f"the request body is not valid UTF-8 (byte {exc.start})") from None
    if _nesting(text) > MAX_NESTING:
        raise InvalidInput("nesting_too_deep", f"the request body nests deeper than {MAX_NESTING} levels")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("invalid_json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:  # not reached past the check above; kept so it can never be a 500
        raise InvalidInput("nesting_too_deep", "the request body nests too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInput("wrong_type", "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _nesting(text: str) -> int:
    """How deep the brackets in `text` nest, ignoring those inside strings (stops past the limit)."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return 0  # too few brackets to be too deep: the common case costs two counts
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
    return deepest


def check_content_type(content_type: str | None) -> None:
    header = Message()
    header["content-type"] = content_type or ""
    subtype = header.get_content_subtype()
    if header.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise InvalidInput("unsupported_media_type", f"send Content-Type: application/json, not {content_type!r}")


def check_chat(request: ChatRequest, settings: Settings) -> None:
    """The limits that depend on settings, after the shape is known to be right."""
    _check_text("message", request.message)
    if not _NOT_BLANK.search(request.message):
        raise InvalidInput("empty_message", "message is empty; ask a question")
    if len(request.message) > settings.max_message_chars:
        raise InvalidInput(
            "message_too_long",
            f"message has {len(request.message)} characters; the limit is {settings.max_message_chars}",
        )
    history = request.history or []
    if len(history) > settings.max_history_turns:
        raise InvalidInput(
            "history_too_long", f"history has {len(history)} turns; the limit is {settings.max_history_turns}"
        )
    for i, turn in enumerate(history):
        _check_text(f"history[{i}].content", turn.content)
    size = sum(len(turn.content.encode("utf-8")) for turn in history)
    if size > settings.max_history_bytes:
        raise InvalidInput(
            "history_too_long", f"history has {size} bytes of text; the limit is {settings.max_history_bytes}"
        )


def check_feedback(request: FeedbackRequest, settings: Settings) -> None:
    by_id, by_text = request.message_id is not None, request.question is not None or request.answer is not None
    if by_id == by_text:
        raise InvalidInput("invalid_feedback", "give either message_id, or question and answer (not both)")
    if by_id and not _MESSAGE_ID.fullmatch(request.message_id or ""):
        raise InvalidInput("invalid_message_id", "message_id must be 1-64 letters, digits, '-' or '_'")
    if by_text and not (_NOT_BLANK.search(request.question or "") and _NOT_BLANK.search(request.answer or "")):
        raise InvalidInput("invalid_feedback", "question and answer must both be given and not blank")
    limits = {"question": settings.max_message_chars, "answer": MAX_ANSWER_CHARS, "comment": settings.max_comment_chars}
    for name, limit in limits.items():
        value = getattr(request, name)
        if value is not None:
            _check_text(name, value)
            if len(value) > limit:
                raise InvalidInput(f"{name}_too_long", f"{name} has {len(value)} characters; the limit is {limit}")


def request_schemas(settings: Settings) -> dict[str, Any]:
    """OpenAPI component schemas for the request bodies (the endpoints parse them by hand), with
    the limits `check_chat` and `check_feedback` enforce under these settings."""
    schemas: dict[str, Any] = {}
    for model in (ChatRequest, FeedbackRequest):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    text = {"type": "string", "minLength": 1, "pattern": NOT_BLANK}
    chat, turn = schemas["ChatRequest"]["properties"], schemas["HistoryTurn"]["properties"]
    chat["message"].update(text, maxLength=settings.max_message_chars)
    chat["history"]["anyOf"][0]["maxItems"] = settings.max_history_turns
    chat["history"]["x-max-total-bytes"] = settings.max_history_bytes
    chat["history"]["description"] = (
        f"The conversation so far, oldest first: at most {settings.max_history_turns} turns, whose contents "
        f"take at most {settings.max_history_bytes} bytes of UTF-8 together.")
    turn["content"]["maxLength"] = settings.max_history_bytes  # implied by the total; the total is the rule

    feedback = schemas["FeedbackRequest"]
    fields = feedback["properties"]
    fields["message_id"]["anyOf"][0].update(pattern=MESSAGE_ID, minLength=1, maxLength=64)
    fields["question"]["anyOf"][0].update(text, maxLength=settings.max_message_chars)
    fields["answer"]["anyOf"][0].update(text, maxLength=MAX_ANSWER_CHARS)
    fields["comment"]["anyOf"][0]["maxLength"] = settings.max_comment_chars
    absent = {"type": "null"}  # a field given as null counts as not given
    feedback["oneOf"] = [
        {"title": "By message id", "required": ["message_id"],
         "properties": {"message_id": {"type": "string"}, "question": absent, "answer": absent}},
        {"title": "By question and answer", "required": ["question", "answer"],
         "properties": {"question": {"type": "string"}, "answer": {"type": "string"}, "message_id": absent}},
    ]
    feedback["description"] = "Name the reply by `message_id`, or by `question` and `answer` (not both)."
    return schemas


def _check_text(name: str, value: str) -> None:
    # json.loads accepts "\ud800", but such a string is not text and cannot be encoded.
    if _SURROGATE.search(value):
        raise InvalidInput("invalid_text", f"{name} contains an unpaired surrogate (\\ud800-\\udfff)")


def _invalid(exc: ValidationError) -> InvalidInput:
    """The first problem pydantic found, said the way a caller reads their JSON."""
    error = exc.errors(include_url=False)[0]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    kind = error["type"]
    if kind == "missing":
        return InvalidInput("missing_field", f"missing field '{where}'")
    if kind == "extra_forbidden":
        return InvalidInput("unknown_field", f"unknown field '{where}'")
    if kind == "literal_error" and where.endswith(".role"):
        return InvalidInput("invalid_role", f"{where} must be 'user' or 'assistant', not {error['input']!r}")
    if kind == "literal_error":
        return InvalidInput("invalid_value", f"{where}: {error['msg']}")
    if kind in _EXPECTED:
        given = _JSON_TYPES.get(type(error["input"]).__name__, type(error["input"]).__name__)
        return InvalidInput("wrong_type", f"'{where}' must be {_EXPECTED[kind]}, not {given}")
    return InvalidInput("invalid_request", f"{where}: {error['msg']}")
