"""The learned detector: deterministic, cached next to the index with a manifest, rebuilt when
its examples or its model change. A deterministic fake embedder and two small signs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chatbot.answer.triage import Triage
from chatbot.answer.triage_model import MANIFEST, MAX_THRESHOLD, MIN_THRESHOLD, choose_threshold, quiet_threshold
from tests.fakes import HashingEmbedder

SIGN = """\
id: {id}
level: {level}
label: a {thing} that is {state}
description: A sign for tests.
lexicon:
  thing: [{thing}]
  state: [{state}, very {state}]
requires:
  - [thing, state]
examples:
  fire:
{fire}
  no_fire:
{no_fire}
"""


def write_signs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for sign_id, level, thing, state in (("widget-broken", "emergency", "widget", "broken"),
                                         ("gadget-hot", "urgent", "gadget", "hot")):
        fire = "\n".join(f'    - "my {thing} is {state} {w}"' for w in
                         ("now", "today", "again", "help", "really", "since lunch", "suddenly"))
        no_fire = "\n".join(f'    - "{t}"' for t in (
            f"my {thing} is not {state}", f"my {thing} was {state} years ago", f"what if my {thing} is {state}?",
            f"my friend had a {state} {thing} once", f"my {thing} is fine", f"I like my {thing}",
            f"a {thing} that is {state} is bad, I read"))
        text = SIGN.format(id=sign_id, level=level, thing=thing, state=state, fire=fire, no_fire=no_fire)
        (folder / f"{sign_id}.yaml").write_text(text, encoding="utf-8")
    return folder


def build(signs: Path, cache: Path | None, embedder=None) -> tuple[Triage, HashingEmbedder]:
    embedder = embedder or HashingEmbedder()
    return Triage.build(embedder, cache_dir=cache, signs_dir=signs), embedder


def test_the_detector_is_built_saved_and_described(tmp_path):
    triage, _ = build(write_signs(tmp_path / "signs"), tmp_path / "cache")
    manifest = json.loads((tmp_path / "cache" / MANIFEST).read_text())
    assert (tmp_path / "cache" / manifest["file"]).is_file()
    assert set(manifest["thresholds"]) == {"widget-broken", "gadget-hot"}
    assert all(MIN_THRESHOLD <= t <= MAX_THRESHOLD for t in manifest["thresholds"].values())
    assert all(MIN_THRESHOLD <= t <= 1.0 for t in manifest["alone_thresholds"].values())  # its own reading's
    assert manifest["training"]["fire"] == 14
    assert set(manifest["held_out"]) == {"with_rule_features", "without_rule_features"}
    assert manifest["versions"]["scikit-learn"]
    assert triage.run("my widget is broken now").level == "emergency"
    assert triage.run("my gadget is hot today").level == "urgent"


def test_the_cache_is_reused_when_nothing_changed(tmp_path):
    signs = write_signs(tmp_path / "signs")
    first, embedder = build(signs, tmp_path / "cache")
    calls = embedder.calls
    second, _ = build(signs, tmp_path / "cache", embedder)
    assert embedder.calls == calls  # nothing embedded: read from the cache
    np.testing.assert_array_equal(first.detector.coef, second.detector.coef)
    assert second.detector.manifest == first.detector.manifest


def test_the_cache_is_rebuilt_when_an_example_changes(tmp_path):
    signs = write_signs(tmp_path / "signs")
    first, embedder = build(signs, tmp_path / "cache")
    path = signs / "gadget-hot.yaml"
    path.write_text(path.read_text().replace('"my gadget is fine"', '"my gadget is fine, thanks"'))
    calls = embedder.calls
    second, _ = build(signs, tmp_path / "cache", embedder)
    assert embedder.calls > calls
    assert second.detector.manifest["fingerprint"] != first.detector.manifest["fingerprint"]
    assert [p.name for p in (tmp_path / "cache").glob("detector.*.npz")] == [second.detector.manifest["file"]]


def test_the_cache_is_rebuilt_for_another_model(tmp_path):
    class OtherModel(HashingEmbedder):
        def fingerprint(self) -> str:
            return "hashing-v2"

    signs = write_signs(tmp_path / "signs")
    first, _ = build(signs, tmp_path / "cache")
    second, other = build(signs, tmp_path / "cache", OtherModel())
    assert other.calls > 0
    assert second.detector.manifest["fingerprint"] != first.detector.manifest["fingerprint"]


def test_a_damaged_cache_is_rebuilt(tmp_path):
    signs = write_signs(tmp_path / "signs")
    build(signs, tmp_path / "cache")
    (tmp_path / "cache" / MANIFEST).write_text("{not json")
    triage, _ = build(signs, tmp_path / "cache")
    manifest = json.loads((tmp_path / "cache" / MANIFEST).read_text())
    assert manifest["fingerprint"] == triage.detector.manifest["fingerprint"]
    assert triage.run("my widget is broken now").escalated


def test_builds_are_deterministic(tmp_path):
    signs = write_signs(tmp_path / "signs")
    a, _ = build(signs, None)
    b, _ = build(signs, None)
    np.testing.assert_array_equal(a.detector.coef, b.detector.coef)
    np.testing.assert_array_equal(a.detector.thresholds, b.detector.thresholds)


@pytest.mark.parametrize(("positives", "negatives", "expected"), [
    ([0.99, 0.8], [0.1, 0.2], 0.8 * 0.95),  # just below the lowest real case
    ([1.0, 1.0], [0.1, 0.2], MAX_THRESHOLD),  # never above the ceiling
    ([0.9, 0.1], [0.1, 0.2], MIN_THRESHOLD),  # never below the floor
])
def test_thresholds_are_chosen_for_recall_first(positives, negatives, expected):
    assert choose_threshold(np.array(positives), np.array(negatives)) == pytest.approx(expected)


def test_a_threshold_keeps_false_alarms_within_the_budget():
    negatives = np.array([0.9] * 5 + [0.1] * 995)
    assert choose_threshold(np.array([0.8]), negatives) > 0.9


def test_the_quiet_threshold_may_reach_above_the_detectors_bound():
    """Its own reading gets no upper bound: where look-alikes score 0.99 (a weak embedding),
    it must keep quiet there."""
    negatives = np.array([0.995] * 5 + [0.1] * 995)
    assert quiet_threshold(negatives) > 0.995 > MAX_THRESHOLD
    assert quiet_threshold(np.array([0.1] * 1000)) == pytest.approx(0.1, abs=1e-5)


class _Sure:
    """A stand-in detector that gives one sign the same score everywhere, and the others none."""

    def __init__(self, book, sign_id: str, score: float) -> None:
        self.sign_ids = tuple(s.id for s in book.signs)
        self.thresholds = np.full(len(self.sign_ids), 0.7)
        self.alone_thresholds = np.full(len(self.sign_ids), 0.7)
        self.row = np.array([score if s == sign_id else 0.0 for s in self.sign_ids])

    def scores(self, features: np.ndarray) -> np.ndarray:
        return np.tile(self.row, (len(features), 1))


@pytest.fixture(scope="module")
def shipped_rules():
    return Triage.build(None).rules


@pytest.mark.parametrize(("sign", "message", "score", "escalated"), [
    ("calf-clot", "what is the capital of france", 0.9, False),  # none of the sign's words: not sure enough
    ("calf-clot", "my leg feels all wrong since the long haul", 0.95, False),
    ("calf-clot", "my leg feels all wrong since the long haul", 0.99, True),  # surer: a wording no lexicon has
    ("calf-clot", "my calf isn't swollen after the flight", 1.0, False),  # context set its words aside
    ("calf-clot", "my friend's calf was swollen after her flight", 1.0, False),
    ("no-weight-after-injury", "rolled my ankle and i literally cant feel the floor", 0.95, False),  # 1 of 2
    ("no-weight-after-injury", "rolled my ankle and i literally cant feel the floor", 0.99, True),
    ("diabetic-foot", "my wife has diabetes and her big toe looks odd", 0.95, False),  # one own group of two
    ("diabetic-foot", "my wife has diabetes and her big toe has gone odd and glassy", 0.99, True),
    ("deep-burn-frostbite", "my foot looks all wrong", 0.95, False),  # one own group of three: very sure only
    ("deep-burn-frostbite", "my foot looks all wrong", 0.99, True),
    ("diabetic-foot", "my big toe has a blister", 0.99, False),  # without the circumstance (diabetes): never
    # an `unless` says the fever is none: a measured temperature below a fever's
    ("sepsis-signs", "got a cold, temperature of 37.8 and achy, my cut is sore", 0.99, False),
    ("sepsis-signs", "got a cold, temperature of 39.8 and achy, my cut is sore", 0.99, True),
])
def test_the_detector_needs_more_certainty_the_less_the_rules_found(shipped_rules, sign, message, score, escalated):
    assert_sure_detector_decides(shipped_rules, sign, message, score, escalated)


def assert_sure_detector_decides(rules, sign: str, message: str, score: float, escalated: bool) -> None:
    triage = Triage(rules, _Sure(rules.book, sign, score), HashingEmbedder())
    result = triage.run(message)
    assert result.escalated == escalated, result
    assert all(h.id == sign and h.by == "detector" for h in result.signs)


@pytest.mark.parametrize(("sign", "message", "score", "escalated"), [
    # Its own reading may outweigh a harmless cause the word lists found ("going up the stairs") ...
    ("chest-breathing", "my chest is tight and i cant catch my breath after going up the stairs", 0.99, True),
    ("chest-breathing", "my chest is tight and i cant catch my breath after going up the stairs", 0.97, False),
    # ... but never a denial, the past, someone else's story or a general question,
    ("chest-breathing", "my chest isn't tight and I can breathe fine", 1.0, False),
    ("chest-breathing", "years ago I had a tight chest and couldnt breathe", 1.0, False),
    ("chest-breathing", "what should I do if my chest is tight?", 1.0, False),
    # nor a missing circumstance (an injury for a leg that cannot bear weight), nor speak where
    # none of the sign's words is said.
    ("no-weight-after-injury", "my leg feels all wrong", 1.0, False),
    ("stroke-signs", "my dad is just not right today", 1.0, False),
])
def test_the_detector_may_speak_alone_when_very_sure(shipped_rules, sign, message, score, escalated):
    assert_sure_detector_decides(shipped_rules, sign, message, score, escalated)


def test_its_own_reading_adds_no_sign_to_those_found(shipped_rules):
    """A message the rules escalate keeps their sign and level; a very sure reading of another
    sign is no second opinion on top."""
    triage = Triage(shipped_rules, _Sure(shipped_rules.book, "collapse-confusion", 0.99), HashingEmbedder())
    result = triage.run("feel terrible, cant get my breath at all")
    assert [h.id for h in result.signs] == ["chest-breathing"]
    assert result.reason == "rules"

