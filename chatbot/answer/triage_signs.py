"""Triage signs as data: one YAML file per sign in `rules/triage/`, checked on load.

A sign file (see `rules/triage/cold-pale-foot.yaml`)::

    id: cold-pale-foot            # the file's own name
    level: emergency              # emergency | urgent
    label: a foot or toes that have turned cold, pale ...      # plain words shown to the person
    description: ...
    lexicon: {limb: [foot, toes, ...], colour: [pale, blue, ...]}   # words of the sign itself
    circumstances: {injury: [fell, ...]}    # optional: may also come from the person's earlier turns
    requires: [[limb, colour], [absent_pulse]]   # any one list: all of its groups together
    near: adjacent                          # optional: clause (words in one clause) | adjacent (or the next)
    unless: {far: [far, properly]}          # optional: in the sign's clause, these cancel it
    explained_by: [ice, bruise]             # optional: harmless causes (rules/triage_context.yaml)
    counts_when_over: true                  # optional: needs care even when it has passed ("it went
                                            # back to normal"), as a mini-stroke does
    examples:
      fire: ["my foot has gone cold and white", {turns: ["fell off a ladder", "now my foot is white"]}]
      no_fire: ["my foot is cold after icing it"]

`_shared.yaml` holds groups any sign may name in `requires`; `_ordinary.yaml` holds ordinary
messages (`no_fire`) that no sign may fire on. `vignettes/*.yaml` hold more labelled messages for
the learned detector only (the rules need not fire on them)::

    fire: {cold-pale-foot: ["my foot went white and cold an hour ago", ...], ...}
    no_fire: ["my feet are always cold in winter", ...]

Every problem is a `TriageRulesError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chatbot.errors import ChatbotError

LEVELS = ("emergency", "urgent")
SHARED = "_shared.yaml"
ORDINARY = "_ordinary.yaml"
VIGNETTES = "vignettes"
_FIELDS = {"id", "level", "label", "description", "lexicon", "circumstances", "requires", "near", "unless",
           "explained_by", "counts_when_over", "examples"}
NEAR = {"clause": 0, "adjacent": 1}  # how far apart a sign's words may be: one clause, or the next too


class TriageRulesError(ChatbotError):
    """A triage sign file is malformed."""


@dataclass(frozen=True)
class Example:
    """A message that must (or must not) fire, with the person's earlier turns."""

    message: str
    history: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sign:
    id: str
    level: str
    label: str
    description: str
    lexicon: dict[str, tuple[str, ...]]  # groups that must be in the message, near each other
    circumstances: dict[str, tuple[str, ...]]  # groups that may be anywhere, or in earlier turns
    requires: tuple[tuple[str, ...], ...]
    near: int  # 0: the sign's words in one clause; 1: in one clause or the next
    unless: dict[str, tuple[str, ...]]
    explained_by: tuple[str, ...]
    fire: tuple[Example, ...]
    no_fire: tuple[Example, ...]
    counts_when_over: bool = False

    def groups(self) -> dict[str, tuple[str, ...]]:
        return {**self.lexicon, **self.circumstances}


@dataclass(frozen=True)
class SignBook:
    signs: tuple[Sign, ...]
    fingerprint: str  # of every file's bytes: the learned detector is rebuilt when it changes
    ordinary: tuple[Example, ...] = ()  # messages no sign may fire on
    vignettes: Vignettes | None = None  # the detector's further training messages

    def look_alikes(self) -> list[Example]:
        """Every message that must not fire: each sign's `no_fire`, then the ordinary ones."""
        return [e for s in self.signs for e in s.no_fire] + list(self.ordinary)

    def training(self) -> tuple[list[tuple[str, Example]], list[Example]]:
        """What the detector learns from: every (sign id, message) that must fire and every
        look-alike, from the sign files and then from the vignettes."""
        fire = [(s.id, e) for s in self.signs for e in s.fire]
        no_fire = self.look_alikes()
        if self.vignettes:
            fire += list(self.vignettes.fire)
            no_fire += list(self.vignettes.no_fire)
        return fire, no_fire

    def by_id(self, sign_id: str) -> Sign:
        return next(s for s in self.signs if s.id == sign_id)


@dataclass(frozen=True)
class Vignettes:
    fire: tuple[tuple[str, Example], ...]  # (sign id, message)
    no_fire: tuple[Example, ...]


def load_signs(folder: Path | None = None, benign: frozenset[str] | None = None) -> SignBook:
    """Every sign in `folder` (default: the package's `rules/triage/`). `benign` names the
    harmless causes `explained_by` may use; None skips that check."""
    root = Path(folder) if folder else Path(str(resources.files("chatbot.rules").joinpath("triage")))
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        raise TriageRulesError(f"No triage sign files (*.yaml) in {root}.")
    vignette_paths = sorted((root / VIGNETTES).glob("*.yaml"))
    digest = hashlib.sha256()
    for path in paths + vignette_paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    shared_lexicon: dict[str, tuple[str, ...]] = {}
    shared_circumstances: dict[str, tuple[str, ...]] = {}
    if (root / SHARED).is_file():
        data = _read(root / SHARED)
        shared_lexicon = _groups(data.get("lexicon", {}), root / SHARED, "lexicon")
        shared_circumstances = _groups(data.get("circumstances", {}), root / SHARED, "circumstances")
    ordinary: tuple[Example, ...] = ()
    if (root / ORDINARY).is_file():
        data = _read(root / ORDINARY)
        items = data.get("no_fire")
        if set(data) != {"no_fire"} or not isinstance(items, list):
            raise TriageRulesError(f"{ORDINARY}: must hold one field, 'no_fire', a list of messages.")
        ordinary = tuple(_example(item, ORDINARY, f"no_fire[{i}]") for i, item in enumerate(items))
    signs = [
        _sign(path, _read(path), shared_lexicon, shared_circumstances, benign)
        for path in paths if not path.name.startswith("_")
    ]
    if not signs:
        raise TriageRulesError(f"No triage signs in {root} (only files starting with _).")
    vignettes = read_vignettes(vignette_paths, {s.id for s in signs}) if vignette_paths else None
    return SignBook(tuple(signs), digest.hexdigest()[:16], ordinary, vignettes)


def read_vignettes(paths: list[Path], sign_ids: set[str]) -> Vignettes:
    """The labelled messages of `paths` (files of `vignettes/`), for signs among `sign_ids`."""
    fire: list[tuple[str, Example]] = []
    no_fire: list[Example] = []
    for path in paths:
        data, name = _read(path), f"{VIGNETTES}/{path.name}"
        if set(data) - {"fire", "no_fire"}:
            raise TriageRulesError(f"{name}: only 'fire' and 'no_fire' may be given.")
        by_sign = data.get("fire") or {}
        if not isinstance(by_sign, dict):
            raise TriageRulesError(f"{name}: field 'fire' must map sign ids to lists of messages.")
        for sign_id, items in by_sign.items():
            if sign_id not in sign_ids:
                raise TriageRulesError(f"{name}: field 'fire' names unknown sign {sign_id!r}.")
            if not isinstance(items, list):
                raise TriageRulesError(f"{name}: field 'fire.{sign_id}' must be a list of messages.")
            fire += [(sign_id, _example(item, name, f"fire.{sign_id}[{i}]")) for i, item in enumerate(items)]
        items = data.get("no_fire") or []
        if not isinstance(items, list):
            raise TriageRulesError(f"{name}: field 'no_fire' must be a list of messages.")
        no_fire += [_example(item, name, f"no_fire[{i}]") for i, item in enumerate(items)]
    return Vignettes(tuple(fire), tuple(no_fire))


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TriageRulesError(f"{path.name}: cannot be read as YAML ({exc.__class__.__name__}: {exc}).") from None
    if not isinstance(data, dict):
        raise TriageRulesError(f"{path.name}: must be a mapping of fields, not {type(data).__name__}.")
    return data


def _sign(path: Path, data: dict, shared_lexicon: dict, shared_circumstances: dict,
          benign: frozenset[str] | None) -> Sign:
    name = path.name
    unknown = set(data) - _FIELDS
    if unknown:
        raise TriageRulesError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}.")
    for key in ("id", "level", "label", "description", "lexicon", "requires", "examples"):
        if key not in data:
            raise TriageRulesError(f"{name}: field '{key}' is missing.")
    for key in ("id", "label", "description"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise TriageRulesError(f"{name}: field '{key}' must be a non-empty string.")
    if data["id"] != path.stem:
        raise TriageRulesError(f"{name}: field 'id' is {data['id']!r}, but must be the file's name {path.stem!r}.")
    if data["level"] not in LEVELS:
        raise TriageRulesError(f"{name}: field 'level' is {data['level']!r}; use one of {', '.join(LEVELS)}.")
    lexicon = {**shared_lexicon, **_groups(data["lexicon"], path, "lexicon")}
    circumstances = {**shared_circumstances, **_groups(data.get("circumstances", {}), path, "circumstances")}
    known = set(lexicon) | set(circumstances)
    requires = data["requires"]
    if not isinstance(requires, list) or not requires or not all(isinstance(r, list) and r for r in requires):
        raise TriageRulesError(f"{name}: field 'requires' must be a list of non-empty lists of group names.")
    for alternative in requires:
        missing = [g for g in alternative if g not in known]
        if missing:
            raise TriageRulesError(f"{name}: field 'requires' names unknown group(s) {', '.join(map(str, missing))}.")
        if not any(g in lexicon for g in alternative):
            raise TriageRulesError(f"{name}: field 'requires': {alternative} needs at least one lexicon group.")
    explained_by = data.get("explained_by", [])
    if not isinstance(explained_by, list) or not all(isinstance(b, str) for b in explained_by):
        raise TriageRulesError(f"{name}: field 'explained_by' must be a list of names.")
    if benign is not None and set(explained_by) - benign:
        raise TriageRulesError(f"{name}: field 'explained_by' names unknown cause(s) "
                               f"{', '.join(sorted(set(explained_by) - benign))}.")
    near = data.get("near", "adjacent")
    if near not in NEAR:
        raise TriageRulesError(f"{name}: field 'near' is {near!r}; use one of {', '.join(NEAR)}.")
    counts_when_over = data.get("counts_when_over", False)
    if not isinstance(counts_when_over, bool):
        raise TriageRulesError(f"{name}: field 'counts_when_over' must be true or false.")
    used = {g for alternative in requires for g in alternative}
    return Sign(
        id=data["id"], level=data["level"], label=" ".join(data["label"].split()),
        description=" ".join(data["description"].split()),
        lexicon={g: t for g, t in lexicon.items() if g in used},
        circumstances={g: t for g, t in circumstances.items() if g in used},
        requires=tuple(tuple(r) for r in requires), near=NEAR[near],
        unless=_groups(data.get("unless", {}), path, "unless"), explained_by=tuple(explained_by),
        **_examples(data["examples"], path), counts_when_over=counts_when_over,
    )


def _groups(value: Any, path: Path, field: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise TriageRulesError(f"{path.name}: field '{field}' must be a mapping of group name to a list of terms.")
    groups = {}
    for group, terms in value.items():
        if not isinstance(terms, list) or not terms:
            raise TriageRulesError(f"{path.name}: field '{field}.{group}' must be a non-empty list of terms.")
        for term in terms:
            if isinstance(term, bool) or not isinstance(term, str | int | float):
                # YAML reads a bare no, yes, on or off as true/false.
                raise TriageRulesError(f"{path.name}: field '{field}.{group}' has {term!r}, not a term; "
                                       "put words like no, yes, on and off in quotes.")
        groups[str(group)] = tuple(str(t) for t in terms)
    return groups


def _examples(value: Any, path: Path) -> dict[str, tuple[Example, ...]]:
    if not isinstance(value, dict) or set(value) - {"fire", "no_fire"}:
        raise TriageRulesError(f"{path.name}: field 'examples' must have 'fire' and 'no_fire' lists.")
    out = {}
    for key in ("fire", "no_fire"):
        items = value.get(key)
        if not isinstance(items, list) or not items:
            raise TriageRulesError(f"{path.name}: field 'examples.{key}' must be a non-empty list.")
        out[key] = tuple(_example(item, path.name, f"examples.{key}[{i}]") for i, item in enumerate(items))
    return out


def _example(item: Any, name: str, where: str) -> Example:
    if isinstance(item, str) and item.strip():
        return Example(item)
    if isinstance(item, dict) and set(item) == {"turns"}:
        turns = item["turns"]
        if isinstance(turns, list) and turns and all(isinstance(t, str) and t.strip() for t in turns):
            return Example(turns[-1], tuple(turns[:-1]))
    raise TriageRulesError(f"{name}: field '{where}' must be a message or {{turns: [earlier, ..., last]}}.")
