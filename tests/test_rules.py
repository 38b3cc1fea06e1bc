"""Every rule file loads against its schema, once; a typo in one is a clear error at start."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from chatbot.rules import RulesError, RulesFile, _load, load


def schemas() -> dict[str, type[RulesFile]]:
    from chatbot.answer.query import QueryRulesFile
    from chatbot.answer.reading import ReadingRulesFile
    from chatbot.answer.safety import SafetyRulesFile
    from chatbot.answer.scope import ScopeRulesFile
    from chatbot.answer.wording import RepliesFile
    from chatbot.knowledge.roles import RoleRulesFile
    from chatbot.knowledge.topics import TopicRulesFile

    return {"safety.yaml": SafetyRulesFile, "query.yaml": QueryRulesFile, "replies.yaml": RepliesFile,
            "roles.yaml": RoleRulesFile, "topics.yaml": TopicRulesFile, "scope.yaml": ScopeRulesFile,
            "reading.yaml": ReadingRulesFile}


@pytest.mark.parametrize("name", sorted(schemas()))
def test_each_rule_file_fits_its_schema_and_is_loaded_once(name):
    schema = schemas()[name]
    first = load(name, schema)
    assert isinstance(first, BaseModel) and load(name, schema) is first


def test_an_unknown_field_names_the_file_and_the_field(tmp_path, monkeypatch):
    class Tiny(RulesFile):
        words: tuple[str, ...]

    from importlib import resources

    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "tiny.yaml").write_text("words: [a, b]\nwrods: [c]\n")
    monkeypatch.setattr(resources, "files", lambda package: folder)
    _load.cache_clear()
    try:
        with pytest.raises(RulesError, match=r"rules/tiny\.yaml.*wrods"):
            load("tiny.yaml", Tiny)
    finally:
        _load.cache_clear()
