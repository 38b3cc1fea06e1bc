"""The Gradio chat page in headless Debian Chromium, as a person uses it, on a desktop and a phone.

One app and one browser for the module: the real app (`create_app`) over the real `Chatbot`
(with the deterministic fake embedder), served on 127.0.0.1 in this process. A few messages
get scripted replies, for shapes the article cannot be made to produce on demand (a quoted
table, an urgent-level alert).
"""

from __future__ import annotations

import re

import pytest

from chatbot.answer.reply import Alert, Citation, Notice, Reply
from chatbot.config import Settings
from tests.e2e_support import DESKTOP, PHONE, ScriptedBot, axe, chromium, describe, serious, serve

pytestmark = pytest.mark.e2e

EMERGENCY = "i fell and the bone is sticking out of my ankle"
HEADLINE = "Call your local emergency number"
NORMAL = "What are the symptoms of tarsal tunnel syndrome?"
TABLE_QUESTION = "which clue goes with which cause"
URGENT_QUESTION = "my ankle is hot and red and i feel feverish"
URGENT_HEADLINE = "Please contact a doctor today."
TABLE = ("While this isn't a substitute for professional diagnosis, here are some clues:\n\n"
         "| Symptom | Likely Cause |\n| --- | --- |\n| Pain + arch collapse | PTTD |\n"
         "| Burning + tingling + numbness | Tarsal tunnel syndrome |")


def scripted(bot) -> dict[str, Reply]:
    rules = bot.rules
    flags = list(rules.data["red_flags"]["fallback"])
    table = Reply(
        answer="(the page renders the fields)", kind="answer",
        body="Here are some clues from the article [1]. Tarsal tunnel syndrome is one of them [2].",
        citations=[
            Citation(1, "c1", "Article › How to Identify the Cause", TABLE, 0.9, label="How to Identify the Cause"),
            Citation(2, "c2", "Article › 4. Tarsal Tunnel Syndrome › Symptoms", "Burning or tingling", 0.8,
                     label="Tarsal Tunnel Syndrome › Symptoms"),
        ],
        red_flags=flags, disclaimer=rules.disclaimer,
    )
    urgent = Reply(
        answer="(the page renders the fields)", kind="urgent",
        alert=Alert("urgent", f"**{URGENT_HEADLINE}** Do not wait for it to pass.", ["warmth and redness", "fever"]),
        body="", red_flags=flags, disclaimer=rules.disclaimer,
        notices=[Notice("not_covered", "The article does not cover infections.")],
    )
    return {TABLE_QUESTION: table, URGENT_QUESTION: urgent}


@pytest.fixture(scope="module")
def url(fake_bot, tmp_path_factory):
    from chatbot.serve.api import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("page-data"), rate_limit_per_minute=0)
    with serve(create_app(ScriptedBot(fake_bot, scripted(fake_bot)), settings)) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _page(browser, url, **options):
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(url + "/")
    page.locator("#chat").wait_for()
    page.locator("textarea").first.wait_for()
    return context, page


@pytest.fixture
def page(browser, url):
    context, page = _page(browser, url, **DESKTOP)
    yield page
    context.close()


@pytest.fixture
def phone(browser, url):
    context, page = _page(browser, url, **PHONE)
    yield page
    context.close()


def replies(page):
    """Finished replies: the disclaimer comes last, so a reply that has one is complete."""
    return page.locator("[data-testid=bot]:has(.disclaimer)")


def ask(page, text: str) -> None:
    before = replies(page).count()
    box = page.locator("textarea").first
    box.fill(text)
    box.press("Enter")
    replies(page).nth(before).wait_for(timeout=30_000)
    page.wait_for_timeout(700)  # let the page settle its scrolling


def inside_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] \
        and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]


ANNOUNCED_AS_ALERT = """text => [...document.querySelectorAll('[role=alert]')].some(el =>
    el.textContent.includes(text)
    && !el.parentElement.closest('[aria-live=polite], [role=log]:not([aria-live=off])'))"""


# --- emergencies ---------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["phone", "page"])
def test_the_emergency_headline_is_on_screen_and_announced_as_an_alert(device, request):
    page = request.getfixturevalue(device)
    ask(page, NORMAL)  # a conversation already under way
    ask(page, EMERGENCY)
    reply = replies(page).last
    alert = reply.locator("[role=alert]").first
    headline = alert.locator("strong").first
    assert HEADLINE in headline.inner_text()
    assert inside_viewport(page, headline), (headline.bounding_box(), page.viewport_size)
    # Nothing routine sits between the alert and the reader: it is the reply's first part.
    first = reply.evaluate("el => el.querySelector('.message-content > *').firstElementChild?.getAttribute('role')"
                           " || el.querySelector('.message-content > * > *')?.getAttribute('role')")
    assert first == "alert"
    # Announced as an alert, not read out within a polite log.
    assert page.evaluate(ANNOUNCED_AS_ALERT, HEADLINE)


def test_an_urgent_alert_has_its_own_style_and_comes_first(phone):
    ask(phone, URGENT_QUESTION)
    reply = replies(phone).last
    alert = reply.locator("[role=alert]").first
    assert URGENT_HEADLINE in alert.inner_text() and "fever" in alert.inner_text()
    assert inside_viewport(phone, alert.locator("strong").first)
    colours = alert.evaluate("el => getComputedStyle(el).borderTopColor")
    # The notice comes after the alert and before the rest.
    order = reply.evaluate("""el => [...el.querySelectorAll('.alert, .notice, .red-flags')]
                              .map(e => e.className.split(' ')[0])""")
    assert order == ["alert", "notice", "red-flags"], order
    ask(phone, EMERGENCY)
    emergency = replies(phone).last.locator("[role=alert]").first
    assert emergency.evaluate("el => getComputedStyle(el).borderTopColor") != colours
    assert replies(phone).nth(-2).locator("[role=alert]").count() == 0  # an earlier alert is not announced again


# --- scrolling -----------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["phone", "page"])
def test_a_new_question_comes_to_the_top_of_the_view(device, request):
    page = request.getfixturevalue(device)
    ask(page, NORMAL)
    ask(page, "How is posterior tibial tendon dysfunction treated?")
    page.locator("#chat [role=log]").evaluate("el => { el.scrollTop = 0; }")  # scrolled up to read
    page.evaluate("window.scrollTo(0, 0)")
    ask(page, "When should I see a doctor?")
    question = page.locator("[data-testid=user]").last
    log = page.locator("#chat [role=log]").bounding_box()
    box = question.bounding_box()
    assert inside_viewport(page, question)
    assert log["y"] - 1 <= box["y"] <= log["y"] + 80, (box, log)  # at the top, not the reply's end


# --- what a reply shows --------------------------------------------------------------------
def test_every_cited_source_is_listed_whatever_its_quote_holds(page):
    ask(page, TABLE_QUESTION)
    reply = replies(page).last
    summaries = reply.locator("details > summary").all_inner_texts()
    assert len(summaries) == 2, summaries
    assert "[1]" in summaries[0] and "[2]" in summaries[1]
    assert reply.locator("table details, td details, td .red-flags, td .disclaimer").count() == 0


def test_the_footer_is_compact_and_secondary_on_a_phone(phone):
    ask(phone, NORMAL)
    reply = replies(phone).last
    flags, disclaimer = reply.locator(".red-flags"), reply.locator(".disclaimer")
    assert flags.locator("li").count() >= 1 and disclaimer.inner_text()
    footer = flags.bounding_box()["height"] + disclaimer.bounding_box()["height"]
    whole = reply.bounding_box()["height"]
    assert footer < 0.4 * whole, (footer, whole)
    size = lambda loc: loc.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")  # noqa: E731
    assert size(disclaimer) < size(reply.locator("p").first)
    # A screen reader hears the answer, not the whole footer after every reply.
    spoken = phone.evaluate("""() => [...document.querySelectorAll('[role=status][aria-live=polite]')]
                               .map(el => el.textContent).join(' ')""")
    assert "Tarsal" in spoken and phone.evaluate("document.title") not in spoken
    assert disclaimer.inner_text() not in spoken


# --- the user's own words ------------------------------------------------------------------
PAYLOADS = [
    '<form action="/x"><button>Press</button><input autofocus value="typed"></form>',
    "<script>window.__xss = 1</script>",
    '<svg width="400" height="400"><circle r="150"/></svg> <img src="http://203.0.113.9/x.png"> ankle',
    "**bold** _slanted_ # heading `code` [link](http://203.0.113.9/) $x^2$",
]


def test_the_users_message_is_shown_as_plain_text(page):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if "203.0.113.9" in r.url else None)
    for payload in PAYLOADS:
        ask(page, payload)
        bubble = page.locator("[data-testid=user]").last
        assert " ".join(bubble.inner_text().split()) == " ".join(payload.split())
        elements = bubble.evaluate("""el => [...el.querySelectorAll(
            'form, button, input, svg, img, script, h1, strong, em, code, a, math, .katex')].map(e => e.tagName)""")
        assert elements == [], (payload, elements)
    assert page.evaluate("window.__xss") is None
    assert outside == []


def test_a_very_long_word_does_not_widen_the_page_on_a_phone(phone):
    ask(phone, "ankle" * 300)
    width = phone.viewport_size["width"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= width
    reply = replies(phone).last
    for part in (reply.locator(".red-flags"), reply.locator(".disclaimer"), phone.locator("[data-testid=user]").last):
        box = part.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box


# --- semantics and controls ----------------------------------------------------------------
def test_page_semantics_for_screen_readers(page):
    assert page.locator("h1").count() == 1
    assert page.get_by_role("textbox", name="Your question", exact=True).count() == 1
    assert page.get_by_role("button", name="Send", exact=True).count() == 1
    ask(page, NORMAL)
    labels = page.locator("#chat [role=log] [aria-label]").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))")
    assert not any("<" in label or "**" in label or len(label) > 80 for label in labels), labels
    assert page.get_by_role("button", name="Clear conversation").count() == 1
    assert page.locator("button", has_text="Clear").count() + page.locator("button[aria-label*=Clear]").count() == 1


def test_send_is_the_primary_control(page):
    send = page.get_by_role("button", name="Send", exact=True)
    background = send.evaluate("el => getComputedStyle(el).backgroundColor")
    red, green, _ = (float(v) for v in re.findall(r"[\d.]+", background)[:3])
    assert green - red > 60, background  # the theme's teal, not a grey secondary button


def test_bold_text_uses_one_font_face(page):
    ask(page, NORMAL)
    page.evaluate("document.fonts.ready")
    faces = page.evaluate("""() => [...document.fonts].filter(f => f.status === 'loaded')
                              .map(f => f.family.replaceAll('"', '') + ' ' + f.weight)""")
    weight = page.locator("[data-testid=bot] strong").first.evaluate("el => getComputedStyle(el).fontWeight")
    assert f"Source Sans Pro {weight}" in faces, (weight, faces)


def test_a_reload_keeps_the_conversation_and_clear_ends_it(page):
    ask(page, NORMAL)
    page.reload()
    replies(page).first.wait_for(timeout=15_000)
    assert page.locator("[data-testid=user]").count() == 1
    page.get_by_role("button", name="Clear conversation").click()
    page.wait_for_timeout(500)
    page.reload()
    page.locator("#chat").wait_for()
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid=user]").count() == 0


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_in_light_and_dark(browser, url, scheme):
    context, page = _page(browser, url, **DESKTOP, color_scheme=scheme)
    try:
        ask(page, NORMAL)
        ask(page, EMERGENCY)
        found = axe(page, {"type": "rule", "values": ["color-contrast"]})
        assert serious(found) == [], describe(found)
    finally:
        context.close()
