"""The learned detector: one logistic regression per sign over a text's embedding and its rule
features, trained from the signs' examples.

Each sign learns from its own `fire` examples (the whole message) against every look-alike
(each sign's `no_fire` and the ordinary messages: the whole message and each of its sentences,
as no part of a look-alike may fire). It knows no article: a clinic that adds articles keeps
the detector it has, and every bot over the same model shares one. Every row is
also learned once more with its signs' rule features blanked, as if the rules had missed it:
so the embedding carries weight of its own, for wordings the rules do not know. A sign's
threshold is chosen on held-out scores (stratified folds, fixed seed) for recall first: the
highest that keeps every held-out example of the sign, within [MIN_THRESHOLD, MAX_THRESHOLD].
Its own reading (the copies with blanked rule features) gets a second threshold per sign: the
lowest that keeps held-out blanked look-alikes within the false-alarm budget, so a weak
embedding, whose own reading is noise, keeps quiet there.

Built deterministically and cached next to the index (`<index_dir>/triage/`): a manifest
names the examples', the context rules' and the model's fingerprints, and the detector is
rebuilt when any of them changes. Scoring needs only NumPy; scikit-learn
is imported only to build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from chatbot.answer.triage_rules import SignRules
from chatbot.answer.triage_signs import Example
from chatbot.search.embeddings import Embedder

log = logging.getLogger(__name__)
DETECTOR_VERSION = 4
SEED = 0
FOLDS = 5
EMBEDDING_SCALE = 4.0  # embeddings are unit vectors; this puts them on the rule features' scale
C = 1.0
MIN_THRESHOLD, MAX_THRESHOLD = 0.7, 0.95
BLANKED_WEIGHT = 0.5  # the copies with blanked rule features count this much
FALSE_ALARM_BUDGET = 0.001  # per sign: the share of held-out look-alike rows it may fire on
MAX_UNITS = 8  # the whole message and up to this many sentences are scored
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Unit:
    text: str  # what is embedded
    clauses: range | None  # the clauses whose rule features go with it (None: the whole message)


def units_of(message: str, reading) -> list[Unit]:
    """The whole message, then each sentence when there are several."""
    units = [Unit(message, None)]
    sentences: dict[int, list] = {}
    for word in reading.words:
        sentences.setdefault(word.sentence, []).append(word)
    if len(sentences) > 1:
        for words in list(sentences.values())[:MAX_UNITS]:
            units.append(Unit(" ".join(w.text for w in words), range(words[0].clause, words[-1].clause + 1)))
    return units


@dataclass
class Detector:
    sign_ids: tuple[str, ...]
    coef: np.ndarray  # (signs, features)
    intercept: np.ndarray  # (signs,)
    thresholds: np.ndarray  # (signs,)
    alone_thresholds: np.ndarray  # (signs,): for its own reading, the rule features blanked
    manifest: dict = field(default_factory=dict)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Probabilities, one row per unit, one column per sign."""
        return 1.0 / (1.0 + np.exp(-(features @ self.coef.T + self.intercept)))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"detector.{self.manifest['fingerprint']}.npz"
        tmp = folder / (name + ".tmp")
        with open(tmp, "wb") as out:
            np.savez(out, coef=self.coef, intercept=self.intercept, thresholds=self.thresholds,
                     alone_thresholds=self.alone_thresholds)
        tmp.replace(folder / name)
        self.manifest = {**self.manifest, "file": name}
        (folder / (MANIFEST + ".tmp")).write_text(json.dumps(self.manifest, indent=2), encoding="utf-8")
        (folder / (MANIFEST + ".tmp")).replace(folder / MANIFEST)
        for old in folder.glob("detector.*.npz"):
            if old.name != name:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> Detector | None:
        """The cached detector, or None when there is none or it was built from other inputs."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("fingerprint") != fingerprint:
                return None
            with np.load(folder / manifest["file"]) as data:
                return cls(tuple(manifest["signs"]), data["coef"], data["intercept"], data["thresholds"],
                           data["alone_thresholds"], manifest)
        except (OSError, ValueError, KeyError):
            return None


@dataclass(frozen=True)
class TrainingSet:
    features: np.ndarray
    positive: np.ndarray  # (rows, signs): a fire example of that sign
    negative: np.ndarray  # (rows,): a look-alike
    group: np.ndarray  # (rows,): which example a row comes from (folds keep them together)
    real: np.ndarray  # (rows,): False for the copies with the rule features blanked


def training_set(rules: SignRules, embedder: Embedder, fire: Sequence[tuple[str, Example]],
                 no_fire: Sequence[Example]) -> TrainingSet:
    """Rows for the fire examples (whole message) and the look-alikes (every unit)."""
    sign_index = {s.id: i for i, s in enumerate(rules.book.signs)}
    rows: list[tuple[str, np.ndarray, int, bool, int]] = []  # text, rule features, sign or -1, negative, group
    for g, (sign_id, example) in enumerate(fire):
        reading = rules.read(example.message, list(example.history))
        rows.append((example.message, rules.features(reading), sign_index[sign_id], False, g))
    for g, example in enumerate(no_fire, start=len(fire)):
        reading = rules.read(example.message, list(example.history))
        rows += [(u.text, rules.features(reading, u.clauses), -1, True, g) for u in units_of(example.message, reading)]
    vectors = _remembered(embedder, [r[0] for r in rows])
    features = np.hstack([EMBEDDING_SCALE * vectors, np.stack([r[1] for r in rows])]).astype(np.float32)
    blanked = rules.without_signs(features)
    positive = np.zeros((len(rows), len(sign_index)), bool)
    for i, row in enumerate(rows):
        if row[2] >= 0:
            positive[i, row[2]] = True
    twice = np.concatenate
    return TrainingSet(
        twice([features, blanked]), twice([positive, positive]), twice([[r[3] for r in rows]] * 2),
        twice([[r[4] for r in rows]] * 2), twice([np.ones(len(rows), bool), np.zeros(len(rows), bool)]),
    )


@dataclass(frozen=True)
class Fitted:
    coef: np.ndarray
    intercept: np.ndarray
    thresholds: np.ndarray
    alone_thresholds: np.ndarray
    held_out: np.ndarray  # each training row's held-out score per sign


def fit(data: TrainingSet, sign_ids: tuple[str, ...]) -> Fitted:
    """Per sign: coefficients, intercept, both thresholds, and each row's held-out score."""
    coef = np.zeros((len(sign_ids), data.features.shape[1]), np.float32)
    intercept = np.zeros(len(sign_ids), np.float32)
    thresholds = np.zeros(len(sign_ids), np.float32)
    alone = np.zeros(len(sign_ids), np.float32)
    held_out = np.full((len(data.features), len(sign_ids)), np.nan, np.float32)
    for s in range(len(sign_ids)):
        rows = np.flatnonzero(data.positive[:, s] | data.negative)
        x, y, groups = data.features[rows], data.positive[rows, s], data.group[rows]
        weights = np.where(data.real[rows], 1.0, BLANKED_WEIGHT)
        held_out[rows, s] = _held_out_scores(x, y, groups, weights)
        model = _model().fit(x, y, sample_weight=weights)
        coef[s], intercept[s] = model.coef_[0], model.intercept_[0]
        real = data.real[rows]
        thresholds[s] = choose_threshold(held_out[rows, s][y & real], held_out[rows, s][~y & real])
        alone[s] = max(MIN_THRESHOLD, quiet_threshold(held_out[rows, s][~y & ~real]))
    return Fitted(coef, intercept, thresholds, alone, held_out)


def choose_threshold(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """Recall first: just below the lowest held-out score of a real case, but no lower than
    keeps the sign's false alarms on held-out look-alikes within the budget; within the bounds."""
    lowest = float(positive_scores.min()) * 0.95 if len(positive_scores) else MAX_THRESHOLD
    return float(np.clip(max(lowest, quiet_threshold(negative_scores)), MIN_THRESHOLD, MAX_THRESHOLD))


def quiet_threshold(negative_scores: np.ndarray) -> float:
    """The lowest threshold that keeps held-out look-alikes within the false-alarm budget:
    just above the first one too many."""
    allowed = int(FALSE_ALARM_BUDGET * len(negative_scores))
    ranked = np.sort(negative_scores)[::-1]
    return min(1.0, float(ranked[allowed]) + 1e-6) if len(ranked) > allowed else 0.0


def _held_out_scores(x: np.ndarray, y: np.ndarray, groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold

    scores = np.zeros(len(y), np.float32)
    folds = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for train, test in folds.split(x, y, groups):
        model = _model().fit(x[train], y[train], sample_weight=weights[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
    return scores


def _model():
    from sklearn.linear_model import LogisticRegression

    # liblinear: exact, deterministic and several times faster than lbfgs at this size.
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=SEED)


def build_detector(rules: SignRules, embedder: Embedder, fingerprint: str) -> Detector:
    started = time.perf_counter()
    book = rules.book
    fire, no_fire = book.training()
    data = training_set(rules, embedder, fire, no_fire)
    sign_ids = tuple(s.id for s in book.signs)
    fitted = fit(data, sign_ids)
    manifest = {
        "version": DETECTOR_VERSION, "fingerprint": fingerprint, "signs": list(sign_ids),
        "thresholds": {s: round(float(t), 4) for s, t in zip(sign_ids, fitted.thresholds, strict=True)},
        "alone_thresholds": {s: round(float(t), 4) for s, t in zip(sign_ids, fitted.alone_thresholds, strict=True)},
        "held_out": held_out_summary(data, fitted.held_out, fitted.thresholds, sign_ids),
        "training": {"fire": len(fire), "no_fire": len(no_fire),
                     "rows": len(data.features), "seed": SEED, "folds": FOLDS, "C": C,
                     "embedding_scale": EMBEDDING_SCALE, "blanked_weight": BLANKED_WEIGHT,
                     "false_alarm_budget": FALSE_ALARM_BUDGET},
        "versions": {p: _version(p) for p in ("scikit-learn", "numpy")},
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    log.info("Built the triage detector in %.1f s", manifest["build_seconds"])
    return Detector(sign_ids, fitted.coef, fitted.intercept, fitted.thresholds, fitted.alone_thresholds, manifest)


def held_out_summary(data: TrainingSet, held_out: np.ndarray, thresholds: np.ndarray,
                     sign_ids: tuple[str, ...]) -> dict:
    """Held-out recall per sign and the share of look-alike rows any sign fires on; again for
    the blanked copies (the detector on its own, as if the rules had missed)."""
    fired = np.nan_to_num(held_out, nan=0.0) >= thresholds
    summary = {}
    for name, rows in (("with_rule_features", data.real), ("without_rule_features", ~data.real)):
        summary[name] = {
            "recall": {s: f"{int(fired[rows & data.positive[:, i], i].sum())}/"
                          f"{int((rows & data.positive[:, i]).sum())}" for i, s in enumerate(sign_ids)},
            "false_alarm_rows": f"{int(fired[rows & data.negative].any(axis=1).sum())}/"
                                f"{int((rows & data.negative).sum())}",
        }
    return summary


_VECTORS: dict[tuple[str, str], np.ndarray] = {}  # (model, text): the examples' embeddings, kept in the process


def _remembered(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embeddings of training texts, remembered for this process: a detector built again
    (other signs' files, other context rules) embeds only what is new."""
    fingerprint = getattr(embedder, "fingerprint", None)
    model = f"{embedder.model_id}:{fingerprint() if callable(fingerprint) else ''}"
    missing = list(dict.fromkeys(t for t in texts if (model, t) not in _VECTORS))
    if missing:
        for text, vector in zip(missing, embedder.embed(missing), strict=True):
            _VECTORS[(model, text)] = vector
    return np.stack([_VECTORS[(model, t)] for t in texts]) if texts else np.zeros((0, embedder.dim), np.float32)


def fingerprint_of(*parts: str) -> str:
    """Of the inputs and of how the detector is trained: a changed setting rebuilds it too."""
    settings = (DETECTOR_VERSION, SEED, FOLDS, EMBEDDING_SCALE, C, MIN_THRESHOLD, MAX_THRESHOLD, BLANKED_WEIGHT,
                FALSE_ALARM_BUDGET, MAX_UNITS)
    return hashlib.sha256("\0".join([repr(settings), *parts]).encode()).hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""
