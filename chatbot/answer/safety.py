"""The safety layer: rules that wrap every reply. The rules themselves are data (`rules/safety.yaml`).

Input rails, before any search:
- triage (triage.py, run first by the bot): signs that need care now, at the emergency or the
  urgent level, override everything else;
- smalltalk: greetings, thanks, "who are you";
- scope (scope.py): what the corpus does not cover, requests to reveal or change the rules;
- dosing questions are flagged for the later stages.

Output rails, on every reply whatever its kind:
- no dose amounts and no "you have X" in the text;
- every citation marker points to a citation whose quote really is in the cited chunk;
- red-flag warnings (the cited article's own, red_flags.py, most relevant first) and the
  disclaimer are appended. Nothing in the input can remove them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from chatbot.answer.reading import Reading
from chatbot.answer.reply import Alert, Citation, Kind, Notice, Reply, markers
from chatbot.answer.scope import Scope, ScopeVerdict
from chatbot.answer.triage import TriageResult
from chatbot.answer.wording import load_phrases
from chatbot.knowledge.chunks import Chunk
from chatbot.rules import RulesFile, load
from chatbot.text import normalize


def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.I)


class _RedFlagsSpec(RulesFile):
    heading: str
    shown: int
    fallback: tuple[str, ...]


class _AlertSpec(RulesFile):
    message: str


class _DosingSpec(RulesFile):
    question: str
    medicine: str
    pointer: str
    forbidden: str


class _DiagnosisSpec(RulesFile):
    forbidden: str


class SafetyRulesFile(RulesFile):
    """rules/safety.yaml"""

    disclaimer: str
    red_flags: _RedFlagsSpec
    emergency: _AlertSpec
    urgent: _AlertSpec
    smalltalk: dict[str, str]
    dosing: _DosingSpec
    diagnosis: _DiagnosisSpec


@dataclass(frozen=True)
class Screening:
    """What the input rails found. `kind` None means: answer it from the article."""

    kind: Kind | None
    reason: str = ""
    triage: TriageResult | None = None  # what triage found, whatever the kind
    dosing: bool = False
    scope: ScopeVerdict | None = None


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
        self._dose_question = _compile(data["dosing"]["question"])
        self._medicine = _compile(data["dosing"]["medicine"])
        self.dosing_pointer: str = " ".join(data["dosing"]["pointer"].split())
        self._forbidden_dose = _compile(data["dosing"]["forbidden"])
        self._forbidden_diagnosis = _compile(data["diagnosis"]["forbidden"])

    # --- input rails -------------------------------------------------------------------
    def smalltalk(self, text: str) -> str | None:
        text = normalize(text)
        return next((name for name, pattern in self._smalltalk.items() if pattern.search(text)), None)

    def names_medicine(self, text: str) -> bool:
        return bool(self._medicine.search(normalize(text)))

    def is_dosing(self, text: str) -> bool:
        text = normalize(text)
        return bool(self._dose_question.search(text) and self._medicine.search(text))

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
    return SafetyRules(load("safety.yaml", SafetyRulesFile).model_dump(), load_phrases())


def screen(
    message: str, standalone: str, rules: SafetyRules, scope: Scope, reading: Reading | None = None,
    continues: bool = False, triage: TriageResult | None = None,
) -> Screening:
    """The input rails, in order: triage's finding first (signs that need care now, whatever the
    topic), then smalltalk (the whole message, or said in a sentence of a message that asks
    nothing else), then scope (on the message as written, spelling fixed: not on what the
    conversation adds)."""
    if triage is not None and triage.escalated:
        return Screening(triage.level, triage.signs[0].id, triage)
    chat = rules.smalltalk(message) or (reading.smalltalk if reading is not None else None)
    if chat and (rules.smalltalk(message) or not scope.anchored(message) or chat == "about_bot"):
        return Screening("smalltalk", chat, triage)
    verdict = scope.judge(message, ask=reading.ask if reading is not None and reading.is_story else None,
                          continues=continues)
    if verdict.in_scope is False:
        return Screening("out_of_scope", verdict.reason, triage, scope=verdict)
    return Screening(None, "", triage, dosing=rules.is_dosing(standalone), scope=verdict)


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
    said_first = "\n\n".join(f"_{n.text}_" for n in notices or [])
    text = "\n\n".join(part for part in (head, said_first, body) if part)
    answer = f"{text}\n\n---\n\n{footer}\n\n_{rules.disclaimer}_"
    return Reply(
        answer=answer, kind=kind, citations=used, red_flags=list(red_flags), disclaimer=rules.disclaimer,
        body=body, alert=alert, red_flags_heading=heading, red_flags_source=list(red_flags_source or []),
        notices=list(notices or []),
    )
