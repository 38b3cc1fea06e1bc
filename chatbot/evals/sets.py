"""Question sets: YAML files under evals/sets/, validated on load.

A file is a mapping::

    suite:
      name: safety            # unique among the sets of one run
      version: 2              # bump when cases change: runs compare only at equal versions
      description: ...
      gates: ["emergency_recall>=1.0", "false_alarm_rate<=0.1"]
      corpus: [heel-pain]     # optional: the articles (ids) it is written for; without them it is skipped
    cases:
      - id: tts-burning-night
        question: burning in the sole of my foot at night       # or `conversation:`
        category: symptoms
        severity: major               # critical | major | minor (default: by category)
        expect: answer                # answer | emergency | urgent | out_of_scope | smalltalk, or
                                      # not_escalated (any reply but an emergency or urgent one)
                                      # (default: by category)
        expected_sections: ["Heel Spur › Symptoms"]   # or "heel-pain: Heel Spur › Symptoms", naming the article
        must_include: [["heel"], ["tingling", "pins and needles"]]
        must_not_include: ["mg"]
        notices: [not_covered]        # notice kinds the reply must carry (not_covered, population)
        tags: [night, "sign:calf-clot"]   # "prefix:value" tags get their own breakdown in reports
        corpus: [heel-pain]           # optional, as for the suite: this case only where these articles are
        notes: why this case exists

A conversation is a list of turns, each `{role: user|assistant, content: ...}` or the short
form `{user: ...}` / `{assistant: ...}`. An assistant turn whose content is `auto` is whatever
the bot replies to the turns before it (asked for during the run). The last turn must be the
user's: it is the one judged.

Every problem is an `EvalSetError` naming the file, the case and what is wrong.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from chatbot.answer.reply import KINDS
from chatbot.errors import EvalSetError
from chatbot.knowledge.chunks import Chunk, section_matches

NOT_ESCALATED = "not_escalated"  # a look-alike: any reply but an emergency or urgent one
EXPECTS = (*KINDS, NOT_ESCALATED)

CATEGORIES = ("in_scope", "symptoms", "follow_up", "emergency", "out_of_scope", "dosing", "adversarial", "smalltalk")
SEVERITIES = ("critical", "major", "minor")
AUTO = "auto"
_DEFAULT_EXPECT = {
    "in_scope": "answer", "symptoms": "answer", "follow_up": "answer", "dosing": "answer",
    "emergency": "emergency", "out_of_scope": "out_of_scope", "smalltalk": "smalltalk",
    # adversarial: no default; each case must say whether it should be answered or declined.
}
# Missing an emergency or giving a dose is a safety failure; everything else is a quality failure.
_DEFAULT_SEVERITY = {"emergency": "critical", "dosing": "critical"}
_CASE_FIELDS = {"id", "question", "conversation", "category", "severity", "expect", "expected_sections",
                "must_include", "must_not_include", "notices", "tags", "notes", "corpus"}
_SUITE_FIELDS = {"name", "version", "description", "gates", "corpus"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Case:
    id: str
    suite: str
    category: str
    severity: str
    expect: str
    turns: tuple[tuple[str, str], ...]  # (role, content); content "auto" for a generated reply
    expected_sections: tuple[str, ...] = ()  # as written in the set
    relevant: tuple[tuple[str, ...], ...] = ()  # per expected section: the chunk ids it names
    must_include: tuple[tuple[str, ...], ...] = ()
    must_not_include: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()  # notice kinds the reply must carry
    tags: tuple[str, ...] = ()
    notes: str = ""

    @property
    def question(self) -> str:
        """The judged message: the last user turn."""
        return self.turns[-1][1]

    @property
    def is_conversation(self) -> bool:
        return len(self.turns) > 1


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    description: str
    path: str
    sha256: str
    gates: tuple[str, ...] = ()
    cases: list[Case] = field(default_factory=list)
    skipped: str = ""  # why the set does not apply to this corpus (then it has no cases)
    skipped_cases: int = 0  # cases written for articles this corpus does not have


def load_sets(paths: Sequence[Path], chunks: Sequence[Chunk]) -> list[Suite]:
    """Load and validate set files; ids must be unique across all of them. A set written for
    articles this corpus does not have comes back with `skipped` said and no cases."""
    if not paths:
        raise EvalSetError("No question sets given.")
    suites: list[Suite] = []
    seen_ids: dict[str, str] = {}
    for path in paths:
        suite = load_set(Path(path), chunks)
        if any(s.name == suite.name for s in suites):
            raise EvalSetError(f"{path}: suite name {suite.name!r} is used by another loaded set.")
        for case in suite.cases:
            if case.id in seen_ids:
                raise EvalSetError(f"{path}: case {case.id!r}: id already used in {seen_ids[case.id]}.")
            seen_ids[case.id] = str(path)
        suites.append(suite)
    return suites


def load_set(path: Path, chunks: Sequence[Chunk]) -> Suite:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read the file ({exc.strerror}).") from None
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"{path}: not valid YAML ({exc}).") from None
    if not isinstance(data, dict) or set(data) != {"suite", "cases"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise EvalSetError(f"{path}: must be a mapping with exactly 'suite' and 'cases' (found {keys}).")
    head = data["suite"]
    if not isinstance(head, dict):
        raise EvalSetError(f"{path}: 'suite' must be a mapping.")
    if unknown := set(head) - _SUITE_FIELDS:
        raise EvalSetError(f"{path}: suite: unknown field(s) {sorted(unknown)}; known: {sorted(_SUITE_FIELDS)}.")
    if not isinstance(head.get("name"), str) or not head["name"].strip():
        raise EvalSetError(f"{path}: suite: 'name' is required.")
    if not isinstance(head.get("version"), (int, str)):
        raise EvalSetError(f"{path}: suite: 'version' is required (a number or string).")
    gates = head.get("gates") or []
    if isinstance(gates, dict):  # {metric: ">=0.9"} is accepted too
        gates = [f"{k}{v}" for k, v in gates.items()]
    if not _str_list(gates):
        raise EvalSetError(f"{path}: suite: 'gates' must be a list of 'metric>=value' strings.")
    _check_gates(path, gates)
    if not isinstance(data["cases"], list) or not data["cases"]:
        raise EvalSetError(f"{path}: 'cases' must be a non-empty list.")
    articles = {c.doc_id for c in chunks}
    wanted = _corpus(head, f"{path}: suite")
    suite = Suite(
        name=head["name"], version=str(head["version"]), description=str(head.get("description", "")),
        path=str(path), sha256=hashlib.sha256(raw).hexdigest(), gates=tuple(gates),
    )
    if missing := sorted(set(wanted) - articles):
        return replace(suite, skipped=f"written for articles this corpus does not have: {', '.join(missing)}")
    ids: set[str] = set()
    skipped = 0
    for number, item in enumerate(data["cases"], start=1):
        if isinstance(item, dict) and not set(_corpus(item, f"{path}: case #{number}")) <= articles:
            skipped += 1
            continue
        case = _case(path, suite.name, number, item, chunks)
        if case.id in ids:
            raise EvalSetError(f"{path}: case {case.id!r}: duplicate id in this file.")
        ids.add(case.id)
        suite.cases.append(case)
    return replace(suite, skipped_cases=skipped)


def _case(path: Path, suite: str, number: int, item: Any, chunks: Sequence[Chunk]) -> Case:
    where = f"{path}: case #{number}"
    if not isinstance(item, dict):
        raise EvalSetError(f"{where}: must be a mapping, not {type(item).__name__}.")
    case_id = item.get("id")
    if not isinstance(case_id, str) or not _ID.match(case_id):
        raise EvalSetError(f"{where}: 'id' is required: letters, digits, '-', '_' or '.', no spaces.")
    where = f"{path}: case {case_id!r}"

    def fail(problem: str) -> EvalSetError:
        return EvalSetError(f"{where}: {problem}")

    if unknown := set(item) - _CASE_FIELDS:
        raise fail(f"unknown field(s) {sorted(unknown)}; known: {sorted(_CASE_FIELDS)}.")
    category = item.get("category")
    if category not in CATEGORIES:
        raise fail(f"'category' must be one of {list(CATEGORIES)}, not {category!r}.")
    expect = item.get("expect", _DEFAULT_EXPECT.get(category))
    if expect is None:
        raise fail(f"{category} cases must say what they 'expect' ({list(EXPECTS)}).")
    if expect not in EXPECTS:
        raise fail(f"'expect' must be one of {list(EXPECTS)}, not {expect!r}.")
    severity = item.get("severity", _DEFAULT_SEVERITY.get(category, "major"))
    if severity not in SEVERITIES:
        raise fail(f"'severity' must be one of {list(SEVERITIES)}, not {severity!r}.")
    turns = _turns(item, fail)
    sections = item.get("expected_sections", [])
    if not _str_list(sections):
        raise fail("'expected_sections' must be a list of heading paths or chunk ids.")
    relevant = tuple(_resolve(ref, chunks, fail) for ref in sections)
    groups = item.get("must_include", [])
    if not isinstance(groups, list):
        raise fail("'must_include' must be a list of groups (each a list of synonyms).")
    # A bare string is a group with one synonym.
    groups = [[g] if isinstance(g, str) else g for g in groups]
    if not all(_str_list(g) and g for g in groups):
        raise fail("'must_include' groups must be non-empty lists of non-empty strings.")
    banned = item.get("must_not_include", [])
    tags = item.get("tags", [])
    if not _str_list(banned):
        raise fail("'must_not_include' must be a list of strings.")
    if not _str_list(tags):
        raise fail("'tags' must be a list of strings.")
    notices = item.get("notices", [])
    if not _str_list(notices):
        raise fail("'notices' must be a list of notice kinds (e.g. not_covered, population).")
    if not isinstance(item.get("notes", ""), str):
        raise fail("'notes' must be a string.")
    return Case(
        id=case_id, suite=suite, category=category, severity=severity, expect=expect, turns=turns,
        expected_sections=tuple(sections), relevant=relevant,
        must_include=tuple(tuple(g) for g in groups), must_not_include=tuple(banned),
        notices=tuple(notices), tags=tuple(tags), notes=item.get("notes", ""),
    )


def _turns(item: dict, fail) -> tuple[tuple[str, str], ...]:
    has_question, has_conversation = "question" in item, "conversation" in item
    if has_question == has_conversation:
        raise fail("give exactly one of 'question' or 'conversation'.")
    if has_question:
        if not isinstance(item["question"], str) or not item["question"].strip():
            raise fail("'question' must be a non-empty string.")
        return (("user", item["question"]),)
    conversation = item["conversation"]
    if not isinstance(conversation, list) or len(conversation) < 2:
        raise fail("'conversation' must be a list of at least two turns.")
    turns = []
    for i, turn in enumerate(conversation):
        if isinstance(turn, dict) and set(turn) == {"role", "content"}:
            role, content = turn["role"], turn["content"]
        elif isinstance(turn, dict) and len(turn) == 1:
            role, content = next(iter(turn.items()))
        else:
            raise fail(f"conversation[{i}] must be {{role, content}} or {{user: ...}} / {{assistant: ...}}.")
        if role not in ("user", "assistant"):
            raise fail(f"conversation[{i}]: role must be 'user' or 'assistant', not {role!r}.")
        if not isinstance(content, str) or not content.strip():
            raise fail(f"conversation[{i}]: content must be a non-empty string.")
        if content.strip() == AUTO and (role != "assistant" or not turns or turns[-1][0] != "user"):
            raise fail(f"conversation[{i}]: 'auto' is only for an assistant turn right after a user turn.")
        turns.append((role, content.strip() if content.strip() == AUTO else content))
    if turns[-1][0] != "user":
        raise fail("the last turn of a conversation must be the user's (it is the one judged).")
    return tuple(turns)


def _resolve(ref: str, chunks: Sequence[Chunk], fail) -> tuple[str, ...]:
    """The chunk ids a reference names. It must name exactly one section (parts of a long
    section share it); a reference that fits several sections is ambiguous. "article: path"
    (the article's id or title, then the heading path) looks in that article only."""
    article, _, rest = ref.partition(": ")
    in_article = [c for c in chunks if rest and article.strip().lower() in (c.doc_id, c.doc_title.lower())]
    if in_article:
        chunks, ref = in_article, rest
    matched = [c for c in chunks if section_matches(c, ref)]
    if not matched:
        raise fail(f"unknown section {ref!r}: no section of the index has this heading path or id.")
    sections = sorted({(c.doc_id, c.section) for c in matched})
    if len(sections) > 1:
        candidates = "; ".join(f"{doc}: {section}" for doc, section in sections)
        raise fail(f"section {ref!r} is ambiguous; it matches {candidates}. Give more of the heading path, "
                   f"or the article first (\"article-id: heading path\").")
    return tuple(c.id for c in matched)


def _corpus(item: dict, where: str) -> list[str]:
    wanted = item.get("corpus", [])
    if not _str_list(wanted):
        raise EvalSetError(f"{where}: 'corpus' must be a list of article ids.")
    return wanted


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _check_gates(path: Path, gates: Iterable[str]) -> None:
    from chatbot.evals.gates import parse_gate

    for text in gates:
        try:
            parse_gate(text)
        except ValueError as exc:
            raise EvalSetError(f"{path}: suite: gate {text!r}: {exc}") from None
