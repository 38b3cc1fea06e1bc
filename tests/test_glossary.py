"""Abbreviations are found in the article itself and searchable both ways."""

from chatbot.knowledge.glossary import Glossary


def test_long_forms_come_from_the_article(documents):
    glossary = Glossary.from_documents(documents)
    assert glossary.long_forms["PTT"] == "posterior tibial tendon"  # "Posterior tibial tendon (PTT)"
    assert glossary.long_forms["PTTD"] == "posterior tibial tendon dysfunction"  # from the heading's initials
    assert glossary.long_forms["RICE"] == "rest ice compression elevation"  # "RICE (Rest, Ice, ...)"


def test_abbreviations_without_a_long_form_in_the_article_are_not_guessed(documents):
    glossary = Glossary.from_documents(documents)
    assert "MRI" not in glossary.long_forms
    assert "OTC" not in glossary.long_forms


def test_expand_works_both_ways(documents):
    glossary = Glossary.from_documents(documents)
    assert "posterior tibial tendon dysfunction" in glossary.expand("PTTD treatment")
    assert "posterior tibial tendon dysfunction" in glossary.expand("pttd treatment")  # not a word: any case
    assert "PTT" in glossary.expand("pain in my posterior tibial tendon")
    assert glossary.expand("how do I cook rice") == "how do I cook rice"  # "rice" is a word: capitals only


def test_front_matter_abbreviations_are_added(tmp_path):
    from chatbot.knowledge.corpus import load_corpus

    (tmp_path / "a.md").write_text(
        "---\nid: a\ntitle: A\nabbreviations:\n  ATFL: anterior talofibular ligament\n---\n# A\n\nThe ATFL.\n",
        encoding="utf-8",
    )
    glossary = Glossary.from_documents(load_corpus(tmp_path))
    assert glossary.long_forms == {"ATFL": "anterior talofibular ligament"}
