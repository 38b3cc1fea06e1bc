"""The rule files, loaded once each and checked against a schema.

Every file in this folder is YAML data that the code reads through `load(name, Schema)`: the
schema is a pydantic model, so a missing or misspelt field is an error that names the file and
the field, when the bot starts, not a KeyError in the middle of a reply.

    rules = load("roles.yaml", RoleRulesFile)
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from chatbot.errors import ChatbotError

Schema = TypeVar("Schema", bound=BaseModel)


class RulesError(ChatbotError):
    """A rule file is missing, not YAML, or does not fit its schema."""


class RulesFile(BaseModel):
    """Base for rule file schemas: unknown fields are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def load(name: str, schema: type[Schema]) -> Schema:
    return _load(name, schema)


@cache
def _load(name: str, schema: type[Schema]) -> Schema:
    path = resources.files("chatbot.rules").joinpath(name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"rules/{name} is missing.") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"rules/{name} is not valid YAML: {exc}") from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()[:5])
        raise RulesError(f"rules/{name} does not fit its schema: {problems}") from None
