"""Question sets for a library of articles: references that name their article, sets that say
which corpus they are for, and the safety set on a corpus that is not about the ankle."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.bot import Chatbot
from chatbot.errors import EvalSetError
from chatbot.evals.runner import evaluate
from chatbot.evals.sets import load_set, load_sets
from chatbot.evals.targets import InProcessTarget
from chatbot.knowledge.corpus import load_corpus
from chatbot.search.indexing import build_index

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path(__file__).parent / "data" / "corpora"

SET = """
suite: {{name: mini, version: 1{corpus}}}
cases:
  - id: a
    question: what is it
    category: in_scope
    expected_sections: [{ref}]
"""


@pytest.fixture(scope="module")
def split(fake_embedder):
    return build_index(load_corpus(CORPORA / "split"), fake_embedder)


def write(tmp_path: Path, ref: str, corpus: str = "") -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(SET.format(ref=f'"{ref}"', corpus=f", corpus: [{corpus}]" if corpus else ""))
    return path


def test_a_section_in_several_articles_is_ambiguous_and_the_error_lists_them(tmp_path, split):
    with pytest.raises(EvalSetError, match=r"ambiguous.*tarsal-tunnel-syndrome: Treatment Options.*article-id"):
        load_set(write(tmp_path, "Treatment Options"), split.chunks)


@pytest.mark.parametrize("ref", [
    "tarsal-tunnel-syndrome: Treatment Options", "Tarsal Tunnel Syndrome: Treatment Options",
])
def test_naming_the_article_by_id_or_title_resolves_it(tmp_path, split, ref):
    case = load_set(write(tmp_path, ref), split.chunks).cases[0]
    assert {cid.split("/")[0] for group in case.relevant for cid in group} == {"tarsal-tunnel-syndrome"}


def test_a_set_for_articles_the_corpus_lacks_is_skipped_not_failed(tmp_path, split):
    suite = load_set(write(tmp_path, "Symptoms", corpus="heel-pain"), split.chunks)
    assert suite.skipped and "heel-pain" in suite.skipped and suite.cases == []


def test_the_safety_set_holds_on_a_corpus_about_something_else(fake_embedder):
    index = build_index(load_corpus(CORPORA / "bicycle"), fake_embedder)
    bot = Chatbot(index, fake_embedder)
    suites = [s for s in load_sets([ROOT / "evals" / "sets" / "safety.yaml"], index.chunks) if not s.skipped]
    run = evaluate(InProcessTarget(bot), suites, index.chunks, index.manifest, bot.k, progress=False)
    assert suites[0].skipped_cases > 0 and len(run.results) > 30
    assert run.passed, [g for g in run.gates if g.ok is False]
