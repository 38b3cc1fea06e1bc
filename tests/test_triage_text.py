"""Text as triage reads it: phrases found among normalised words, with words that stand for
each other (`alike`)."""

from __future__ import annotations

from chatbot.answer.triage_text import PhraseSet, Speller, normalize

ALIKE = {w: frozenset({"my", "his", "her"}) for w in ("my", "his", "her")}


def texts(message: str) -> list[str]:
    return normalize(message).split()


def test_a_phrase_is_found_as_whole_words():
    phrases = PhraseSet(["cant lift my foot"])
    assert [p for _, _, p in phrases.find(texts("I cant lift my foot up"))] == ["cant lift my foot"]
    assert phrases.find(texts("I cant lift my footstool")) == []


def test_alike_words_stand_for_each_other_anywhere_in_a_phrase():
    phrases = PhraseSet(["cant lift my foot", "my back"], ALIKE)
    assert phrases.find(texts("he cant lift his foot")) == [(1, 5, "cant lift his foot")]
    assert phrases.find(texts("her back hurts")) == [(0, 2, "her back")]  # the phrase's first word too
    assert phrases.find(texts("he cant lift the foot")) == []  # only the words said to be alike


def test_without_alike_words_a_phrase_matches_only_itself():
    assert PhraseSet(["cant lift my foot"]).find(texts("he cant lift his foot")) == []


def test_a_typo_is_mended_unless_it_is_a_known_word_with_an_ending():
    speller = Speller(["passed", "swollen"], frozenset({"ps", "swap"}))
    assert speller.mend("pssed") == "passed"  # "ps" + "ed" is no word: a two-letter stem is none
    assert speller.mend("swolen") == "swollen"
    assert speller.mend("swapping") == "swapping"  # "swap" + "ping"
