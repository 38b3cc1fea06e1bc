"""BERT in NumPy: the encoder that turns the default model's text into vectors without torch.

For the default model (all-MiniLM-L6-v2: BERT, mean pooling, normalised) `NumpyBertEmbedder`
gives the same vectors as sentence-transformers (tests check this) and starts in a fraction of
a second, because it does not import torch. `NumpyBertEmbedder.supports` says which model
folders it can run; `load_embedder` (embeddings.py) asks it.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatbot.search.model_folder import ModelFolder, read_json


class NumpyBertEmbedder(ModelFolder):
    """BERT encoder + mean pooling + L2 normalisation, in NumPy (safetensors weights)."""

    backend = "numpy"

    @staticmethod
    def supports(path: Path) -> bool:
        config = read_json(path / "config.json")
        pooling = read_json(path / "1_Pooling" / "config.json")
        modules = [m.get("type", "") for m in read_json(path / "modules.json", default=[])]
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
