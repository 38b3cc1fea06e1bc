"""The errors the chatbot raises.

Library code raises these; only the edges (CLI, HTTP API, web page) turn them into
user-facing messages. Each error says what went wrong and, where there is one, the
command that fixes it.
"""

from __future__ import annotations

from pathlib import Path


class ChatbotError(Exception):
    """Base class: every error the package raises on purpose."""


class CorpusError(ChatbotError):
    """A corpus file is missing, unreadable or not in the expected format."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelNotFoundError(ChatbotError):
    """The embedding model folder does not exist or lacks its files."""


class IndexProblem(ChatbotError):
    """The search index cannot be used as it is; `fix` is the command that repairs it."""

    fix = "chatbot index build"

    def __init__(self, message: str) -> None:
        super().__init__(f"{message} Run `{self.fix}` (or `make run`) to rebuild it.")


class IndexMissingError(IndexProblem):
    """No index has been built in the index folder."""


class IndexCorruptError(IndexProblem):
    """The index files are damaged, incomplete or do not match their manifest."""


class IndexStaleError(IndexProblem):
    """The index was built from another corpus, model or chunking than the current one."""


class EvalSetError(ChatbotError):
    """An evaluation question set is malformed (names the file, the case and the problem)."""


class InvalidInput(ChatbotError):
    """A request the bot cannot take as it is: `code` is stable for programs, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
