"""Triage: the first stage for every message. Does it describe signs that need care now?

    Triage.run(message, history) -> TriageResult(level, signs, reason)

Two detectors read the message; either one escalates it:
- the rules (triage_rules.py): each sign's word groups meeting in a clause or the next, in
  context (negated, past, someone else's story, a general question, a harmless cause);
- the learned detector (triage_model.py): a classifier per sign over the embeddings of the
  message and its sentences together with the rules' features, trained on the signs' examples
  and the vignettes. It needs the sign's circumstances (diabetes, an injury); with all but one
  of the sign's word groups its own threshold is enough, with fewer it must be very sure
  (`Certainty`): wordings no lexicon lists. When nothing else fired, it may still speak when
  very sure on its own reading (the text's embedding with the rules' sign features blanked, as
  it also learned every example), if some of the sign's words are said, even where a harmless
  cause the word lists found set them aside ("going up the stairs"). It never speaks against a
  denial, the past, someone else's story or a general question ("no swelling", "years ago"):
  there only the rules decide.

`level` is "emergency" (call the emergency number now) or "urgent" (be seen today), the most
serious of the signs found; None when nothing needs care now. A general question about a sign
("what are the signs of a clot?") gets reason "general_question": it is answered, not alarmed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from chatbot.answer.reply import Level
from chatbot.answer.triage_context import load_context
from chatbot.answer.triage_model import (
    EMBEDDING_SCALE,
    Detector,
    build_detector,
    fingerprint_of,
    units_of,
)
from chatbot.answer.triage_rules import Reading, SignRules
from chatbot.answer.triage_signs import load_signs
from chatbot.answer.triage_text import vocabulary
from chatbot.search.embeddings import Embedder

log = logging.getLogger(__name__)
_SEVERITY = {"emergency": 2, "urgent": 1}


@dataclass(frozen=True)
class Certainty:
    """How sure the detector must be with fewer of a sign's words, or on its own reading: the
    lowest value at which every shipped evaluation set still passes (at 0.98 an ordinary
    symptoms question escalates). bench/triage_bench.py prints, for these and lower values,
    recall and false alarms with each vignette writer held out of training."""

    some: float = 0.985  # half the sign's word groups
    little: float = 0.985  # fewer
    alone: float = 0.985  # its own reading, when nothing else fired (`SignRules.open_alone`)

    def needed(self, evidence: str) -> float:
        return {"most": 0.0, "some": self.some, "little": self.little}[evidence]


# Detectors built in this process, by fingerprint: every bot over the same model (a test suite
# builds many, over many corpora) trains it once.
_BUILT: dict[str, Detector] = {}


@dataclass(frozen=True)
class Scores:
    """The detector's scores for one message, one per sign."""

    with_rules: np.ndarray  # read with the rules' features
    alone: np.ndarray  # read as if the rules had found nothing


@dataclass(frozen=True)
class SignHit:
    id: str
    level: Level
    label: str  # plain words, shown to the person
    by: str  # "rules", "detector" or "rules+detector"
    score: float | None = None  # the detector's, when it scored the sign


@dataclass(frozen=True)
class TriageResult:
    level: Level | None
    signs: tuple[SignHit, ...] = ()  # most serious first
    reason: str = ""  # "rules", "detector", "rules+detector", "general_question" or ""
    asked: tuple[str, ...] = ()  # sign ids a general question is about

    @property
    def escalated(self) -> bool:
        return self.level is not None


class Triage:
    def __init__(self, rules: SignRules, detector: Detector | None = None, embedder: Embedder | None = None,
                 certainty: Certainty = Certainty()) -> None:
        if detector is not None and embedder is None:
            raise ValueError("a detector needs the embedder it was trained with")
        self.rules = rules
        self.certainty = certainty
        self.detector = detector
        self.embedder = embedder
        self.signs = {s.id: s for s in rules.book.signs}

    @classmethod
    def build(cls, embedder: Embedder | None, cache_dir: Path | None = None, signs_dir: Path | None = None,
              context_path: Path | None = None, learned: bool = True) -> Triage:
        """Rules from `signs_dir` (default: the package's), and the detector trained for
        `embedder`, read from `cache_dir` when it is current, else built (and saved there)."""
        context = load_context(context_path)
        rules = SignRules(load_signs(signs_dir, frozenset(context.benign)), context, vocabulary())
        if embedder is None or not learned:
            return cls(rules)
        fingerprint = fingerprint_of(rules.book.fingerprint, _file_digest(context_path), _model_fingerprint(embedder))
        detector = Detector.load(cache_dir, fingerprint) if cache_dir else None
        if detector is None:
            detector = _BUILT.get(fingerprint) or build_detector(rules, embedder, fingerprint)
            if cache_dir:
                detector.save(cache_dir)
        _BUILT[fingerprint] = detector
        return cls(rules, detector, embedder)

    def run(self, message: str, history: Sequence[dict | str] | None = None) -> TriageResult:
        return self.run_many([(message, history)])[0]

    def run_many(self, items: Sequence[tuple[str, Sequence[dict | str] | None]]) -> list[TriageResult]:
        """Several messages at once: their texts are embedded in one call."""
        readings = [self.rules.read(message, _user_turns(history)) for message, history in items]
        # The detector reads with the rules' evidence (see `SignRules.evidence`), or on its own
        # where the context leaves it free (`SignRules.open_alone`); a message with neither for
        # any sign is not embedded here at all.
        evidence = [{s.id: e for s in self.rules.book.signs if (e := self.rules.evidence(r, s))} for r in readings]
        alone = [{s.id for s in self.rules.book.signs if self.rules.open_alone(r, s)} for r in readings]
        scores: list[Scores | None] = [None] * len(items)
        if self.detector is not None:
            todo = [i for i in range(len(items)) if evidence[i] or alone[i]]
            for i, score in zip(todo, self._scores([items[i][0] for i in todo], [readings[i] for i in todo],
                                                   [evidence[i] for i in todo]), strict=True):
                scores[i] = score
        return [self._decide(*args) for args in zip(readings, scores, evidence, alone, strict=True)]

    def _scores(self, messages: list[str], readings: list[Reading], evidence: list[dict[str, str]]) -> list[Scores]:
        """Per message, the detector's scores for each sign: with the rules' features, the
        highest over the whole message and those of its sentences that hold words of a sign
        with evidence; alone, the highest over the message and all its sentences read as if the
        rules had found nothing. Every text is embedded in one call."""
        assert self.detector is not None and self.embedder is not None
        units = [units_of(message, reading) for message, reading in zip(messages, readings, strict=True)]
        if not units:
            return []
        vectors = self.embedder.embed([u.text for us in units for u in us])
        out, row = [], 0
        for reading, us, found in zip(readings, units, evidence, strict=True):
            rule_features = np.stack([self.rules.features(reading, u.clauses) for u in us])
            features = np.hstack([EMBEDDING_SCALE * vectors[row:row + len(us)], rule_features])
            row += len(us)
            words = self.rules.sign_words(reading, [self.signs[s] for s in found])
            with_words = [k for k, u in enumerate(us)
                          if u.clauses is None or any(reading.words[p].clause in u.clauses for p in words)]
            out.append(Scores(self.detector.scores(features[with_words]).max(axis=0),
                              self.detector.scores(self.rules.without_signs(features)).max(axis=0)))
        return out

    def _decide(self, reading: Reading, scores: Scores | None, evidence: dict[str, str], alone: set[str],
                ) -> TriageResult:
        by_rules = {s.id for s in self.rules.fired(reading)}
        by_detector: dict[str, float] = {}
        if scores is not None and self.detector is not None:
            detector = self.detector
            for sign_id, score, threshold in zip(detector.sign_ids, scores.with_rules, detector.thresholds,
                                                 strict=True):
                found = evidence.get(sign_id)
                if found and score >= max(threshold, self.certainty.needed(found)):
                    by_detector[sign_id] = float(score)
            # Its own reading is the last resort: it adds no sign (nor a higher level) to those found.
            if not by_rules and not by_detector:
                by_detector = {sign_id: float(own) for sign_id, own, threshold
                               in zip(detector.sign_ids, scores.alone, detector.alone_thresholds, strict=True)
                               if sign_id in alone and own >= max(threshold, self.certainty.alone)}
        found = by_rules | set(by_detector)
        if not found:
            asked = tuple(s.id for s in self.rules.asked(reading))
            return TriageResult(None, reason="general_question" if asked else "", asked=asked)
        hits = []
        for sign_id in found:
            sign = self.signs[sign_id]
            by = "+".join(name for name, ids in (("rules", by_rules), ("detector", by_detector)) if sign_id in ids)
            hits.append(SignHit(sign.id, sign.level, sign.label, by, by_detector.get(sign_id)))
        hits.sort(key=lambda h: (-_SEVERITY[h.level], h.by != "rules+detector", -(h.score or 0.0), h.id))
        reasons = {part for h in hits for part in h.by.split("+")}
        reason = "rules+detector" if len(reasons) == 2 else reasons.pop()
        return TriageResult(hits[0].level, tuple(hits), reason)


def _user_turns(history: Sequence[dict | str] | None) -> list[str]:
    turns = []
    for turn in history or ():
        if isinstance(turn, str):
            turns.append(turn)
        elif isinstance(turn, dict) and turn.get("role") == "user" and isinstance(turn.get("content"), str):
            turns.append(turn["content"])
    return turns


def _file_digest(path: Path | None) -> str:
    source = Path(path) if path else Path(str(resources.files("chatbot.rules").joinpath("triage_context.yaml")))
    return hashlib.sha256(source.read_bytes()).hexdigest()


def _model_fingerprint(embedder: Embedder) -> str:
    fingerprint = getattr(embedder, "fingerprint", None)
    return f"{embedder.model_id}:{fingerprint() if callable(fingerprint) else ''}"
