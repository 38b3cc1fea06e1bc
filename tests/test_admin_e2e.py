"""The admin pages in Debian Chromium: axe-core finds no violation of any impact on any of them
(the sign-in form, the overview and every list, full and empty, on desktop and phone), and the
page links work with JavaScript off."""

from __future__ import annotations

import pytest

from chatbot.config import Settings
from tests.e2e_support import DESKTOP, PHONE, axe, chromium, describe, serve
from tests.test_admin import PAGES, SECRET, SECRET_HASH
from tests.test_admin_pages import fill

pytestmark = pytest.mark.e2e
FULL_PAGES = [*PAGES, "/admin/feedback?page=2", "/admin/sections?page=2", "/admin/feedback?page=99"]


def app_url(bot, data_dir, filled: bool):
    from chatbot.serve.api import create_app

    settings = Settings().with_(data_dir=data_dir, rate_limit_per_minute=0, admin_secret_hash=SECRET_HASH)
    app = create_app(bot, settings)
    if filled:
        fill(app.state.store)
    return serve(app)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def full_url(fake_bot, tmp_path_factory):
    with app_url(fake_bot, tmp_path_factory.mktemp("admin-e2e-full"), filled=True) as base:
        yield base


@pytest.fixture(scope="module")
def empty_url(fake_bot, tmp_path_factory):
    with app_url(fake_bot, tmp_path_factory.mktemp("admin-e2e-empty"), filled=False) as base:
        yield base


def signed_in(browser, base: str, device: dict, **options):
    context = browser.new_context(**device, **options)
    page = context.new_page()
    page.goto(base + "/admin/sign-in")
    page.fill("#secret", SECRET)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin")
    return context, page


def check(page, where: str) -> None:
    violations = axe(page)
    assert violations == [], f"{where}:\n{describe(violations)}"


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_no_accessibility_violations_on_the_sign_in_form(browser, empty_url, device):
    context = browser.new_context(**(DESKTOP if device == "desktop" else PHONE))
    try:
        page = context.new_page()
        page.goto(empty_url + "/admin/sign-in")
        check(page, f"sign-in {device}")
    finally:
        context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_no_accessibility_violations_on_any_admin_page_with_many_rows(browser, full_url, device):
    context, page = signed_in(browser, full_url, DESKTOP if device == "desktop" else PHONE)
    try:
        for path in FULL_PAGES:
            page.goto(full_url + path)
            if path == "/admin/unanswered":
                for summary in page.locator("details > summary").all()[:4]:
                    summary.click()  # the questions and the pin form, opened
            check(page, f"{path} {device}")
    finally:
        context.close()


def test_no_accessibility_violations_on_the_empty_pages(browser, empty_url):
    context, page = signed_in(browser, empty_url, DESKTOP)
    try:
        for path in PAGES:
            page.goto(empty_url + path)
            check(page, f"{path} empty")
    finally:
        context.close()


def test_page_links_and_the_menu_work_without_javascript(browser, full_url):
    context, page = signed_in(browser, full_url, DESKTOP, java_script_enabled=False)
    try:
        page.click("nav.menu >> text=Feedback")
        page.wait_for_url(full_url + "/admin/feedback")
        first = page.locator("article.item").first.inner_text()
        page.click('nav.pager a[rel="next"]')
        page.wait_for_url(full_url + "/admin/feedback?page=2")
        assert page.locator("article.item").count() == 20 and page.locator("article.item").first.inner_text() != first
        assert page.locator('nav.pager [aria-current="page"]').text_content() == "Page 2 (this page)"
        page.click('nav.pager a[rel="prev"]')
        page.wait_for_url(full_url + "/admin/feedback")
    finally:
        context.close()


def test_the_overview_stays_short_on_a_phone(browser, full_url):
    context, page = signed_in(browser, full_url, PHONE)
    try:
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 4000, f"the overview is {height} px tall on a phone"
    finally:
        context.close()
