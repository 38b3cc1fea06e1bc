"""Context, handled once for every sign (rules/triage_context.yaml): a sign's words count only
when they tell of something happening now. The rules alone, so each case shows one rule."""

from __future__ import annotations

import pytest

from chatbot.answer.triage import Triage


@pytest.fixture(scope="module")
def triage():
    return Triage.build(None)


def level(triage, message, history=None):
    return triage.run(message, history).level


@pytest.mark.parametrize(("sign", "negated"), [
    ("my foot is cold and pale", "my foot isn't cold or pale"),
    ("I have a fever and my ankle is hot and swollen", "no fever, my ankle is a bit swollen"),
    ("rolled my ankle and can't walk on it", "rolled my ankle but I can walk on it fine"),
    ("bone sticking out of my leg after the fall", "no bone is showing after the fall"),
    ("my calf is swollen and tender after the flight", "my calf is not swollen or tender after the flight"),
])
def test_negation(triage, sign, negated):
    assert level(triage, sign) is not None
    assert level(triage, negated) is None


@pytest.mark.parametrize(("now", "past"), [
    ("my foot went white and cold", "my foot went white and cold years ago, it's fine now"),
    ("I can see the bone in my ankle", "I could see the bone in my ankle when I broke it as a kid"),
    ("fever and a red, hot, swollen knee", "fever and a red, hot, swollen knee last year, it cleared up"),
])
def test_the_past(triage, now, past):
    assert level(triage, now) is not None
    assert level(triage, past) is None


def test_the_past_does_not_hide_what_is_back_now(triage):
    assert level(triage, "I had a DVT years ago and now my calf is swollen again after my flight") == "urgent"


@pytest.mark.parametrize("message", [
    "my friend had a blood clot in her calf after a flight",
    "I read on a forum that a pale cold foot can be an emergency",
    "a colleague once told me her achilles snapped playing squash",
])
def test_someone_elses_story_is_no_alarm(triage, message):
    assert level(triage, message) is None


@pytest.mark.parametrize("message", [
    "my dad's foot has gone blue and cold",
    "my wife is slurring her words",
    "my dad had a fall and his ankle is bent the wrong way",
])
def test_someone_elses_emergency_now_fires(triage, message):
    assert level(triage, message) == "emergency"


@pytest.mark.parametrize("message", [
    "what are the signs of a blood clot in the calf?",
    "when should I go to A&E if my foot goes cold and pale?",
    "what if my lips swell up after a bee sting?",
])
def test_a_general_question_gets_guidance_not_an_alarm(triage, message):
    result = triage.run(message)
    assert result.level is None
    assert result.reason == "general_question" and result.asked


def test_a_question_about_what_is_happening_now_is_no_general_question(triage):
    assert level(triage, "should I go to A&E? my calf is swollen and painful since the flight yesterday") == "urgent"


@pytest.mark.parametrize(("sign", "explained"), [
    ("my foot is cold and white", "my foot is cold and white after icing it for 20 minutes"),
    ("the skin on my ankle is purple", "the skin on my ankle is purple from the bruise, it's healing"),
    ("my toes are blue", "my toes are blue from the dye in my new socks"),
])
def test_a_harmless_cause_the_message_gives(triage, sign, explained):
    assert level(triage, sign) is not None
    assert level(triage, explained) is None


def test_a_harmless_cause_does_not_explain_a_sign_that_is_new_or_worse(triage):
    assert level(triage, "the GP said it was a sprain, but now my foot is cold and blue") == "emergency"


def test_a_denied_list_runs_past_the_negations_reach(triage):
    assert level(triage, "I've had a temperature all day and my feet ache. The joints are swollen and red.")
    assert level(triage, "I've had a temperature all day and my feet ache. None of the joints are swollen or red.") \
        is None


def test_a_sign_phrase_said_of_someone_else_now_fires(triage):
    # The sign's phrases say "my"; his, her or their foot is the same sign.
    assert level(triage, "since this morning i cant pull my foot up at all") == "emergency"
    assert level(triage, "since this morning she cant pull her foot up at all") == "emergency"


def test_feeling_that_came_back_is_over(triage):
    assert level(triage, "my toes went numb and cold in the ski boots, but the feeling came back once I "
                         "took them off") is None


def test_a_colour_said_of_a_thing_is_the_things(triage):
    assert level(triage, "my little toe has gone blue") == "emergency"
    assert level(triage, "my blue trainers rub on my little toe") is None


def test_worse_asked_about_says_nothing_is_worse(triage):
    assert level(triage, "my toes look blue from the dye in my new socks and it is getting worse") == "emergency"
    assert level(triage, "my toes look blue from the dye in my new socks. does the dye make it worse?") is None


def test_a_circumstance_from_an_earlier_turn_counts(triage):
    history = [{"role": "user", "content": "I fell off a ladder this morning"},
               {"role": "assistant", "content": "I'm sorry to hear that."}]
    assert level(triage, "now my ankle looks deformed") is None
    assert level(triage, "now my ankle looks deformed", history) == "emergency"


def test_an_earlier_turn_alone_does_not_alarm_again(triage):
    history = [{"role": "user", "content": "my foot went cold and white an hour ago"}]
    assert level(triage, "thanks, what exercises help tendonitis?", history) is None


def test_typos_are_mended_towards_sign_words_only(triage):
    assert level(triage, "my calf is swolen and painfull after a long fligt") == "urgent"
    words = [w.text for w in triage.rules.read("please write about breeding").words]
    assert words == ["please", "write", "about", "breeding"]  # real words are left alone


def test_a_stroke_sign_in_an_ankle_question_fires(triage):
    result = triage.run("how long does ankle tendonitis take to heal? also my mum's face is drooping on one side")
    assert result.level == "emergency" and result.signs[0].id == "stroke-signs"


@pytest.mark.parametrize(("sign", "denied_after"), [
    ("my face is drooping and my speech is slurred", "my face and speech are all fine, it's only my ankle"),
    ("my toes are blue and cold", "my toes are fine, my heel hurts when I walk"),
])
def test_a_denial_said_after_its_words(triage, sign, denied_after):
    assert level(triage, sign) is not None
    assert level(triage, denied_after) is None


def test_a_denial_after_its_words_does_not_reach_into_another_clause(triage):
    assert level(triage, "his face is drooping and my foot is fine") == "emergency"
    assert level(triage, "the cut on my foot is bleeding and it won't stop, everything else is fine") == "emergency"


@pytest.mark.parametrize(("sign", "over"), [
    ("my toes went white and cold", "my toes went white and cold but they go back pink once I'm warm"),
    ("calf felt tight and swollen after the flight", "calf felt tight after the flight but it went after a walk"),
])
def test_a_sign_that_is_over(triage, sign, over):
    assert level(triage, sign) is not None
    assert level(triage, over) is None


def test_a_clinicians_finding_at_the_end_of_the_story_explains_it(triage):
    story = "fell off my bike last week and I can't walk on my foot"
    assert level(triage, story) == "urgent"
    assert level(triage, story + ". the x-ray showed no break and they said it's a sprain") is None
    # Signs told after the finding are new since it.
    assert level(triage, "the nurse said the wound looked fine. since yesterday there's green pus and the redness "
                         "has spread up my foot") == "urgent"


@pytest.mark.parametrize("message", [
    "feeling a bit better about my ankle, the physio helps",  # "a bit" is no bite
    "my arch is collapsing, the podiatrist gave me insoles",  # a structure, not a person
    "I get pins and needles in the bottom of my foot after long rides",  # not the saddle area
    "I've been swapping between a heat pad and ice",  # "swapping" is no typo of a sign word
    "do these trainers come in a wider fit for my feet?",  # a shoe's fit, not a seizure
])
def test_everyday_words_are_no_sign_words(triage, message):
    assert level(triage, message) is None


def test_an_idiom_inside_a_longer_sign_phrase_still_counts(triage):
    assert level(triage, "his speech is a bit off and his face is drooping on one side") == "emergency"


def test_typos_mend_to_the_likeliest_sign_word(triage):
    speller = triage.rules.speller
    assert speller.mend("speading") == "spreading"  # a dropped letter, not "speaking"
    assert speller.mend("swapping") == "swapping"  # swap + p + ing


def test_a_sign_that_is_not_getting_better_is_not_over(triage):
    # "improving" says it is passing; "not improving" says the opposite.
    assert level(triage, "my foot went cold and white an hour ago and it's improving") is None
    assert level(triage, "my foot went cold and white an hour ago and it's not improving") is not None
    assert level(triage, "my foot went cold and white an hour ago, isn't really improving") is not None
    # A negation denies what follows it, not the next thought: "no break, they said sprain".
    found = "fell off my bike, can only just hobble. the x-ray showed no break, they said it's a sprain"
    assert level(triage, found) is None


def test_a_harmless_cause_explains_only_the_words_it_can(triage):
    # A dye explains a colour, not a wound; the sock here is only where the wound showed.
    assert level(triage, "I'm diabetic, my toes look blue but it's the dye from my new socks") is None
    assert level(triage, "I'm diabetic, found a wet patch on my sock, there's a raw crater under my toe") is not None


def test_months_of_the_same_is_no_emergency_of_today(triage):
    assert level(triage, "something hard is poking out of the skin on my heel since the fall") is not None
    assert level(triage, "something hard is poking out of the skin on my heel, it's been there for months") is None


def test_a_later_sentence_can_claim_a_general_question(triage):
    assert level(triage, "is it bad if a diabetic foot goes purple on the toes?") is None
    claimed = "is it bad if a diabetic foot goes purple on the toes? noticed it tonight, it's new"
    assert level(triage, claimed) is not None


def test_an_itchy_bite_is_a_local_reaction(triage):
    assert level(triage, "got stung on my ankle, it's red and swollen around the sting") is not None
    assert level(triage, "got stung on my ankle, it's red and swollen around the sting and itchy") is None
    spreading = "got stung on my ankle, it was itchy but now the redness round the sting is spreading"
    assert level(triage, spreading) is not None


def test_contractions_keep_their_meaning():
    from chatbot.answer.triage_text import normalize

    # Without the apostrophe "I'll" would be "ill" and "we're" "were".
    spelled = normalize("I'll be fine, we're here, can't walk, dad's foot")
    assert spelled == "i will be fine, we are here, cant walk, dad foot"


def test_someone_elses_emergency_when_the_person_is_with_them_now(triage):
    assert level(triage, "my mate broke his leg, the bone came through the skin, we're in the car park") is not None
    assert level(triage, "my mate broke his leg years ago, the bone came through the skin, he was in hospital") is None


@pytest.mark.parametrize(("sign", "over"), [
    # A denial that is part of the recovery ("back to normal colour") does not undo it.
    ("my feet went white and numb in the cold sea",
     "my feet went white and numb in the cold sea but after a shower they went back to normal colour"),
    # "again" in a recovery is no return and no worsening.
    ("my foot went pale and cold", "my foot went pale and cold, but its pink and warm again now"),
    # A return followed by a normal state says the opposite.
    ("my toes went white and cold", "my toes went white and cold, then pink and tingly and now they are completely "
                                    "normal"),
])
def test_a_recovery_said_in_many_ways_is_over(triage, sign, over):
    assert level(triage, sign) is not None
    assert level(triage, over) is None


def test_a_recovery_only_thought_is_none(triage):
    assert level(triage, "my ankle is swollen, red and burning hot and I have a fever. I had a small cut on my foot "
                         "last week that I thought healed") is not None


@pytest.mark.parametrize("message", [
    # Waited for is not over: "I'll see if it wears off".
    "my left leg's gone numb and weak out of nowhere an hour ago. I'll see if it wears off?",
    # What stopped is said after the cue, and only that is over.
    "my friend collapsed at the finish line, she's confused and has stopped sweating",
])
def test_a_recovery_waited_for_or_of_something_else_is_none(triage, message):
    assert level(triage, message) == "emergency"


def test_a_recovery_of_the_sign_itself_is_over(triage):
    assert level(triage, "the cut on my foot won't stop bleeding") is not None
    assert level(triage, "the cut on my foot won't stop bleeding, oh wait it has stopped bleeding now") is None


def test_a_comparison_denies_nothing(triage):
    # "feels like it's not my leg" describes the leg; a denial it is not.
    assert level(triage, "since an hour my right leg has no power and it feels like not my leg") == "emergency"


def test_a_denial_that_is_another_signs_term_still_denies(triage):
    # "no pain" is a deep burn's term; for a clot it is a denial.
    assert level(triage, "pain in my calf since the long flight, one side is swollen") == "urgent"
    assert level(triage, "no pain in my calves since the long flight, both sides the same") is None


def test_a_denial_after_a_clause_with_its_own_subject_stays_there(triage):
    assert level(triage, "came back on a long train journey and since yesterday my right calf is aching and "
                         "swelling, left is ok") == "urgent"


def test_a_sock_or_a_bath_explains_a_colour_only_as_its_cause(triage):
    assert level(triage, "my toes are blue from my new socks, it washes off") is None
    assert level(triage, "when I took my sock off his foot was white and cold, really cold") == "emergency"
