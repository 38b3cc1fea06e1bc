"""The safety layer: rules that wrap every reply. The rules themselves are data (`rules/safety.yaml`).

Input rails, before any search:
- triage (triage.py, run first by the bot): signs that need care now, at the emergency or the
  urgent level, override everything else;
- smalltalk: greetings, thanks, "who are you";
- scope: other body parts, unrelated topics, requests to reveal or change the rules;
- dosing and injection attempts are flagged for the later stages.

Output rails, on every reply whatever its kind:
- no dose amounts and no "you have X" in the text;
- every citation marker points to a citation whose quote really is in the cited chunk;
- red-flag warnings (the article's "When to See a Doctor" list, most relevant first) and the
  disclaimer are appended. Nothing in the input can remove them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from chatbot.answer.reply import Alert, Citation, Kind, Notice, Reply, markers
from chatbot.answer.triage import TriageResult
from chatbot.knowledge.chunks import Chunk, section_matches
from chatbot.knowledge.markdown import parse_blocks
from chatbot.search.embeddings import Embedder


def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.I)


def normalize(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("‘", "'").split())


@dataclass(frozen=True)
class Screening:
    """What the input rails found. `kind` None means: answer it from the article."""

    kind: Kind | None
    reason: str = ""
    triage: TriageResult | None = None  # what triage found, whatever the kind
    dosing: bool = False
    injection: bool = False


class SafetyRules:
    def __init__(self, data: dict, replies: dict) -> None:
        self.data = data
        self.replies = replies
        self.disclaimer: str = " ".join(data["disclaimer"].split())
        # What to do, first in the reply, for each level of triage.
        self.alert_messages: dict[str, str] = {level: " ".join(data[level]["message"].split())
                                               for level in ("emergency", "urgent")}
        self.emergency_message = self.alert_messages["emergency"]
        self.urgent_message = self.alert_messages["urgent"]
        self._smalltalk = {name: _compile(p) for name, p in data["smalltalk"].items()}
        scope = data["scope"]
        self._ankle_words = _compile(scope["ankle_words"])
        self._foot_words = _compile(scope["foot_words"])
        self._topic_words = _compile(scope["topic_words"])
        self._other_foot_problems = _compile(scope["other_foot_problems"])
        self._other_body_parts = _compile(scope["other_body_parts"])
        self._other_topics = [_compile(p) for p in scope["other_topics"]]
        self._reveal_rules = _compile(scope["reveal_rules"])
        self._injection = _compile(scope["injection"])
        self.examples: list[str] = scope["examples"]
        self._dose_question = _compile(data["dosing"]["question"])
        self._medicine = _compile(data["dosing"]["medicine"])
        self.dosing_pointer: str = " ".join(data["dosing"]["pointer"].split())
        self._forbidden_dose = _compile(data["dosing"]["forbidden"])
        self._forbidden_diagnosis = _compile(data["diagnosis"]["forbidden"])

    # --- input rails -------------------------------------------------------------------
    def smalltalk(self, text: str) -> str | None:
        text = normalize(text)
        return next((name for name, pattern in self._smalltalk.items() if pattern.search(text)), None)

    def has_anchor(self, text: str) -> bool:
        text = normalize(text)
        # Medicines count: "is ibuprofen ok?" asks about the treatments the article lists.
        return any(p.search(text) for p in (self._ankle_words, self._foot_words, self._topic_words, self._medicine))

    def out_of_scope_reason(self, text: str) -> str | None:
        """Why a question is plainly about something else, or None.

        Naming the ankle keeps any question in scope; a foot word is enough against another
        body part ("my knee and my foot"), but not against another foot problem (gout) or an
        unrelated request ("a poem about feet").
        """
        text = normalize(text)
        if self._ankle_words.search(text):
            return None
        if self._reveal_rules.search(text) or self._injection.search(text):
            # An injection wrapped around a real question still gets the question answered.
            return None if self.has_anchor(text) else "reveal_rules"
        if any(p.search(text) for p in self._other_topics):
            return "other_topic"
        if self._other_foot_problems.search(text):
            return "other_body_part"
        if self._other_body_parts.search(text) and not self._foot_words.search(text):
            return "other_body_part"
        return None

    def is_dosing(self, text: str) -> bool:
        text = normalize(text)
        return bool(self._dose_question.search(text) and self._medicine.search(text))

    def is_injection(self, text: str) -> bool:
        return bool(self._injection.search(normalize(text)) or self._reveal_rules.search(normalize(text)))

    # --- output rails ------------------------------------------------------------------
    def scrub(self, body: str) -> str:
        """Drop any line that states a dose amount or tells the person what they have."""
        kept = [
            line for line in body.split("\n")
            if not self._forbidden_dose.search(line) and not self._forbidden_diagnosis.search(normalize(line))
        ]
        return "\n".join(kept).strip()

    def states_dose(self, text: str) -> bool:
        return bool(self._forbidden_dose.search(text))

    def states_diagnosis(self, text: str) -> bool:
        return bool(self._forbidden_diagnosis.search(normalize(text)))


@lru_cache(maxsize=1)
def load_safety_rules() -> SafetyRules:
    folder = resources.files("chatbot.rules")
    data = yaml.safe_load(folder.joinpath("safety.yaml").read_text(encoding="utf-8"))
    replies = yaml.safe_load(folder.joinpath("replies.yaml").read_text(encoding="utf-8"))
    return SafetyRules(data, replies)


def screen(message: str, standalone: str, rules: SafetyRules, triage: TriageResult | None = None) -> Screening:
    """The input rails, in order: triage's finding first (signs that need care now, whatever the
    topic), then smalltalk, then scope."""
    if triage is not None and triage.escalated:
        return Screening(triage.level, triage.signs[0].id, triage)
    chat = rules.smalltalk(message)
    if chat:
        return Screening("smalltalk", chat, triage)
    injection = rules.is_injection(message)
    reason = rules.out_of_scope_reason(message)
    if reason:
        return Screening("out_of_scope", reason, triage, injection=injection)
    return Screening(None, "", triage, dosing=rules.is_dosing(standalone), injection=injection)


class RedFlags:
    """The article's "see a doctor if" list, ranked by how close each is to the reply's topic."""

    def __init__(self, flags: list[str], vectors: np.ndarray | None, heading: str, shown: int) -> None:
        self.flags = flags
        self.vectors = vectors
        self.heading = heading
        self.shown = shown

    @classmethod
    def from_chunks(cls, chunks: list[Chunk], embedder: Embedder | None, rules: SafetyRules) -> RedFlags:
        spec = rules.data["red_flags"]
        source = [c for c in chunks if section_matches(c, spec["section"])]
        flags = [u.text for c in source for b in parse_blocks(c.text) if b.kind == "list" for u in b.units()]
        flags = flags or list(spec["fallback"])
        vectors = embedder.embed(flags) if embedder is not None else None
        return cls(flags, vectors, spec["heading"], int(spec["shown"]))

    def for_topic(self, topic_vectors: np.ndarray | None) -> list[str]:
        """The `shown` most relevant flags; with no topic, the first ones in the article's order."""
        if self.vectors is None or topic_vectors is None or len(topic_vectors) == 0:
            return self.flags[: self.shown]
        relevance = (self.vectors @ topic_vectors.T).max(axis=1)
        order = sorted(range(len(self.flags)), key=lambda i: (-round(float(relevance[i]), 6), i))
        return [self.flags[i] for i in order[: self.shown]]


def finalize(
    kind: Kind, body: str, citations: list[Citation], chunks: dict[str, Chunk],
    red_flags: list[str], rules: SafetyRules, heading: str, *, alert: Alert | None = None,
    notices: list[Notice] | None = None, red_flags_source: list[str] | None = None,
) -> Reply:
    """Apply the output rails and append the red flags and the disclaimer."""
    body = rules.scrub(body)
    valid = {c.n: c for c in citations if c.id in chunks and c.quote and c.quote in chunks[c.id].text}
    for n in set(markers(body)) - set(valid):
        body = body.replace(f" [{n}]", "").replace(f"[{n}]", "")
    used = [valid[n] for n in sorted(set(markers(body))) if n in valid]
    footer = "\n".join([f"**{heading}**", *(f"- {flag}" for flag in red_flags)])
    head = ""
    if alert is not None:
        head = alert.message + (f"\n\n{rules.replies['emergency']['described']} {'; '.join(alert.signs)}."
                                if alert.signs else "")
    text = "\n\n".join(part for part in (head, body) if part)
    answer = f"{text}\n\n---\n\n{footer}\n\n_{rules.disclaimer}_"
    return Reply(
        answer=answer, kind=kind, citations=used, red_flags=list(red_flags), disclaimer=rules.disclaimer,
        body=body, alert=alert, red_flags_heading=heading, red_flags_source=list(red_flags_source or []),
        notices=list(notices or []),
    )
