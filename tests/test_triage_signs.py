"""Triage signs as data (rules/triage/*.yaml): every file is checked on load, and a bad one
gets an error naming the file and the field."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from chatbot.answer.triage_context import load_context
from chatbot.answer.triage_signs import LEVELS, Example, TriageRulesError, load_signs

SIGNS_DIR = Path(__file__).resolve().parent.parent / "chatbot" / "rules" / "triage"
BENIGN = frozenset(load_context().benign)
GOOD = """\
id: {id}
level: emergency
label: a test sign
description: A sign for tests.
lexicon:
  thing: [widget]
  state: [broken]
requires:
  - [thing, state]
examples:
  fire: ["my widget is broken"]
  no_fire: ["my widget is fine"]
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_signs_load_with_their_examples():
    book = load_signs(benign=BENIGN)
    ids = [s.id for s in book.signs]
    assert len(ids) == len(set(ids)) >= 18
    for sign in book.signs:
        assert sign.level in LEVELS
        assert len(sign.fire) >= 25 and len(sign.no_fire) >= 25, sign.id
        assert sign.label and sign.label[0].islower() and len(sign.label) < 200, sign.id
    assert {s.level for s in book.signs} == set(LEVELS)
    assert len(book.ordinary) >= 50


def test_a_good_file_loads(tmp_path):
    write(tmp_path, "widget-broken", GOOD.format(id="widget-broken"))
    book = load_signs(tmp_path)
    sign = book.by_id("widget-broken")
    assert sign.requires == (("thing", "state"),) and sign.fire[0].message == "my widget is broken"


def test_shared_groups_can_be_named_in_requires(tmp_path):
    (tmp_path / "_shared.yaml").write_text("circumstances:\n  injury: [fell]\n", encoding="utf-8")
    write(tmp_path, "widget-broken", GOOD.format(id="widget-broken").replace("- [thing, state]", "- [thing, injury]"))
    assert load_signs(tmp_path).by_id("widget-broken").circumstances == {"injury": ("fell",)}


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace("level: emergency", "level: soon"), "field 'level' is 'soon'"),
    (lambda t: t.replace("id: widget-broken", "id: other"), "field 'id' is 'other'"),
    (lambda t: t.replace("label: a test sign\n", ""), "field 'label' is missing"),
    (lambda t: t.replace("- [thing, state]", "- [thing, colour]"), "field 'requires' names unknown group(s) colour"),
    (lambda t: t.replace("state: [broken]", "state: [no]"), "put words like no, yes, on and off in quotes"),
    (lambda t: t.replace("state: [broken]", "state: []"), "field 'lexicon.state' must be a non-empty list"),
    (lambda t: t.replace('no_fire: ["my widget is fine"]', "no_fire: [{turn: x}]"), "field 'examples.no_fire[0]'"),
    (lambda t: t + "explained_by: [moonlight]\n", "field 'explained_by' names unknown cause(s) moonlight"),
    (lambda t: t + "colour: red\n", "unknown field(s) colour"),
    (lambda t: t + "near: far\n", "field 'near' is 'far'"),
    (lambda t: "- just\n- a list\n", "must be a mapping of fields"),
    (lambda t: "id: [unclosed\n", "cannot be read as YAML"),
])
def test_a_bad_file_names_the_file_and_the_field(tmp_path, change, message):
    write(tmp_path, "widget-broken", change(GOOD.format(id="widget-broken")))
    with pytest.raises(TriageRulesError) as error:
        load_signs(tmp_path, benign=BENIGN)
    assert str(error.value).startswith("widget-broken.yaml: ")
    assert message in str(error.value)


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(TriageRulesError, match="No triage sign files"):
        load_signs(tmp_path)


def test_the_fingerprint_follows_the_files(tmp_path):
    shutil.copytree(SIGNS_DIR, tmp_path / "signs")
    before = load_signs(tmp_path / "signs").fingerprint
    assert load_signs(tmp_path / "signs").fingerprint == before
    path = tmp_path / "signs" / "calf-clot.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert load_signs(tmp_path / "signs").fingerprint != before


def test_the_shipped_vignettes_train_the_detector_for_every_sign():
    book = load_signs(benign=BENIGN)
    fire, no_fire = book.training()
    assert book.vignettes is not None and len(book.vignettes.fire) >= 800 and len(book.vignettes.no_fire) >= 600
    per_sign = Counter(sign_id for sign_id, _ in book.vignettes.fire)
    assert set(per_sign) <= {s.id for s in book.signs} and sum(n >= 20 for n in per_sign.values()) >= 15
    assert len(fire) == sum(len(s.fire) for s in book.signs) + len(book.vignettes.fire)
    assert len(no_fire) == len(book.look_alikes()) + len(book.vignettes.no_fire)
    assert any(e.history for _, e in book.vignettes.fire)  # conversations keep their earlier turns


def test_vignettes_load_and_count_in_the_fingerprint(tmp_path):
    write(tmp_path, "widget-broken", GOOD.format(id="widget-broken"))
    before = load_signs(tmp_path).fingerprint
    write(tmp_path / "vignettes", "writer-1",
          'fire:\n  widget-broken: ["it snapped in two", {turns: ["hi", "snapped"]}]\nno_fire: ["a broken record"]\n')
    book = load_signs(tmp_path)
    assert book.fingerprint != before
    assert book.vignettes.fire[1] == ("widget-broken", Example("snapped", ("hi",)))
    assert [e.message for e in book.vignettes.no_fire] == ["a broken record"]
    assert [s.id for s in book.signs] == ["widget-broken"]  # a vignette file is not a sign


@pytest.mark.parametrize(("text", "message"), [
    ('fire:\n  no-such-sign: ["x"]\n', "unknown sign 'no-such-sign'"),
    ("fire: [a, b]\n", "must map sign ids"),
    ('fire:\n  widget-broken: "x"\n', "fire.widget-broken' must be a list"),
    ("no_fire: {a: b}\n", "'no_fire' must be a list"),
    ("no_fire: [[1, 2]]\n", r"no_fire\[0\]"),
    ("extra: 1\n", "only 'fire' and 'no_fire'"),
])
def test_a_bad_vignette_file_names_the_file_and_the_field(tmp_path, text, message):
    write(tmp_path, "widget-broken", GOOD.format(id="widget-broken"))
    write(tmp_path / "vignettes", "writer-1", text)
    with pytest.raises(TriageRulesError, match=message) as error:
        load_signs(tmp_path)
    assert "vignettes/writer-1.yaml" in str(error.value)
