"""axe-core (the npm package, injected with Playwright) on every page the product serves, in
Debian Chromium: `/`, `/embed` and `/demo` with the widget open, light and dark, desktop and
phone, before and after a conversation (an answer and an emergency). No critical or serious
violation may remain; moderate and minor ones are listed in the test output (-rP) and in the
README with the reason each is left.
"""

from __future__ import annotations

import pytest

from chatbot.config import Settings
from tests.e2e_support import DESKTOP, PHONE, WIDGET, axe, chromium, describe, serious, serve

pytestmark = pytest.mark.e2e

QUESTIONS = ["What are the symptoms of tarsal tunnel syndrome?", "i fell and the bone is sticking out of my ankle"]
SEEN: dict[str, set[str]] = {}


@pytest.fixture(scope="module")
def url(fake_bot, tmp_path_factory):
    from chatbot.serve.api import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("a11y-data"), rate_limit_per_minute=0)
    with serve(create_app(fake_bot, settings)) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def converse_on_page(page) -> None:
    for n, question in enumerate(QUESTIONS):
        box = page.locator("#box textarea")
        box.fill(question)
        box.press("Enter")
        page.locator("[data-testid=bot]:has(.disclaimer)").nth(n).wait_for(timeout=30_000)
    page.wait_for_timeout(600)


def converse_in_widget(page) -> None:
    for n, question in enumerate(QUESTIONS):
        box = page.locator(f"{WIDGET} textarea")
        box.fill(question)
        box.press("Enter")
        page.locator(f"{WIDGET} .msg.bot:not(.streaming)").nth(n).wait_for(timeout=30_000)
    page.wait_for_timeout(300)


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["/", "/embed", "/demo"])
def test_no_serious_accessibility_violations(browser, url, path, scheme, device):
    context = browser.new_context(**(DESKTOP if device == "desktop" else PHONE), color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(url + path)
        if path == "/":
            page.locator("#box textarea").wait_for()
            page.wait_for_timeout(500)
        else:
            if path == "/demo":
                page.locator(f"{WIDGET} .launcher").click()
            page.locator(f"{WIDGET} .panel").wait_for(state="visible")
        found = {"before": axe(page)}
        (converse_on_page if path == "/" else converse_in_widget)(page)
        found["after"] = axe(page)
        for stage, violations in found.items():
            assert serious(violations) == [], f"{path} {scheme} {device} {stage}:\n{describe(serious(violations))}"
            for v in violations:
                print(f"{path} {scheme} {device} {stage}: {v['impact']} {v['id']} ({v['help']}) "
                      f"x{len(v['nodes'])}: {v['nodes'][0]['target']}")
    finally:
        context.close()
