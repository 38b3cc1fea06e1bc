"""The admin pages with many stored rows: a short overview, one paged list per page, page links
that are plain links, clear empty states, and page numbers that are not pages refused clearly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chatbot.answer.reply import Alert, Citation, Reply
from chatbot.serve.admin.pages import PER_PAGE
from chatbot.serve.admin.paging import Paging, page_number
from chatbot.store.store import Recorded
from tests.test_admin import PAGES, make_client, sign_in

GROUPS = 27  # pairs of declined questions, each pair a group of its own (or two merged, where words collide)
RATINGS = 45
DAYS = 20
CITED = 30  # distinct sections cited
SIGNS = 30
PINS = 23
NOW = datetime.now(UTC)


def word(n: int) -> str:
    """A made-up word of its own for each n, so the hashing embedder keeps groups apart."""
    return "".join(chr(97 + (n // 26**i) % 26) for i in range(3)) + "ex"


def declined(n: int, variant: int) -> Recorded:
    return Recorded(f"o{n}-{variant}", f"{word(n)} {word(n + 700)}" + " please" * variant, Reply("no", "out_of_scope"))


def cited(n: int) -> Recorded:
    citation = Citation(1, f"article/s{n:02d}", f"S{n:02d}", "quote", 0.5, f"Article › S{n:02d}", "article", "Article")
    return Recorded(f"a{n}", f"asked about s{n:02d}", Reply("the answer", "answer", [citation]))


def emergency(n: int) -> Recorded:
    alert = Alert("emergency", "Call.", [f"sign {n:02d}"])
    return Recorded(f"e{n}", f"urgent {n}", Reply("call now", "emergency", alert=alert))


def fill(store) -> None:
    real_clock = store.clock
    try:
        for day in range(DAYS):  # one reply a day, so the per-day table has DAYS rows
            store.clock = lambda day=day: NOW - timedelta(days=day)
            store.record_replies([cited(day)])
        store.clock = real_clock
        store.record_replies([declined(n, v) for n in range(GROUPS) for v in range(2)])
        store.record_replies([cited(n) for n in range(DAYS, CITED)] + [emergency(n) for n in range(SIGNS)])
        for n in range(RATINGS):
            store.add_feedback("up" if n % 3 else "down", question=f"rated question {n}", answer="an answer",
                               comment=f"comment number {n}", source="page")
        for n in range(PINS):
            store.add_pin(f"pin number {n}", ["medial-malleolus-pain/none"], [1.0] + [0.0] * 63, "test/other", 0.75, 2)
    finally:
        store.clock = real_clock


@pytest.fixture(scope="module")
def full(fake_bot, tmp_path_factory):
    client = make_client(fake_bot, tmp_path_factory.mktemp("admin-pages"))
    assert sign_in(client).status_code == 303
    fill(client.app.state.store)
    return client


@pytest.fixture
def empty(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path)
    assert sign_in(client).status_code == 303
    return client


def group_count(client) -> int:
    """How many groups the questions made (the JSON report has every group)."""
    count = len(client.get("/admin/report.json").json()["groups"])
    assert count > PER_PAGE["groups"] * 2, "the test needs three pages of groups"
    return count


def links(html: str, label: str) -> list[str]:
    nav = re.search(rf'<nav class="pager" aria-label="Pages of {label}">(.*?)</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(1).replace("&amp;", "&")) if nav else []


# --- the overview ------------------------------------------------------------------------------
def test_the_overview_is_short_and_links_to_every_list(full):
    page = full.get("/admin").text
    assert len(re.findall(r'<span class="count">', page)) == 3  # the three largest groups only
    assert f"All {group_count(full)} groups" in page
    assert 'action="/admin/pins"' not in page and "<table" not in page and "comment number" not in page
    for path in PAGES[1:]:
        assert f'href="{path}"' in page
    assert len(page) < 15_000


def test_every_page_marks_where_you_are_in_the_menu(full):
    for path in PAGES:
        assert re.search(rf'<a href="{path}" aria-current="page">', full.get(path).text), path


# --- paged lists -------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "kind", "total", "row"), [
    ("/admin/unanswered", "groups", None, r'<section class="group"'),
    ("/admin/feedback", "feedback", RATINGS, r'<article class="item"'),
    ("/admin/per-day", "days", DAYS, r'<tr><th scope="row">'),
    ("/admin/signs", "signs", SIGNS, r"<tr><td>sign \d\d</td>"),
    ("/admin/pins", "pins", PINS, r'<section class="item"'),
])
def test_each_list_is_paged_and_every_row_is_on_exactly_one_page(full, path, kind, total, row):
    per_page, total = PER_PAGE[kind], total or group_count(full)
    pages = -(-total // per_page)
    assert pages >= 2, "the test needs more rows than one page holds"
    seen = []
    href = path
    for number in range(1, pages + 1):
        response = full.get(href)
        assert response.status_code == 200
        rows = re.findall(row + r".*?(?=" + row + r"|</main>)", response.text, re.S)
        assert len(rows) == (per_page if number < pages else total - per_page * (pages - 1))
        seen += rows
        nav = links(response.text, {"groups": "groups", "feedback": "ratings", "days": "days", "signs": "signs",
                                    "pins": "pins"}[kind])
        if number < pages:
            [href] = [h for h in nav if h.endswith(f"page={number + 1}")][:1] or [None]
            assert href == f"{path}?page={number + 1}", nav
        else:
            assert not any(h.endswith(f"page={number + 1}") for h in nav)
    assert len(seen) == total and len(set(seen)) == total


def test_the_feedback_pages_run_newest_first(full):
    first = full.get("/admin/feedback").text
    last = full.get(f"/admin/feedback?page={-(-RATINGS // PER_PAGE['feedback'])}").text
    assert f"comment number {RATINGS - 1}<" in first and "comment number 0<" in last
    assert "comment number 0<" not in first


def test_the_sections_page_pages_each_table_and_keeps_the_other_ones_page(full):
    response = full.get("/admin/sections?page=2")
    assert response.status_code == 200
    assert response.text.count("<tr><td>Article › S") == CITED - PER_PAGE["sections"]
    assert links(response.text, "sections") == ["/admin/sections", "/admin/sections"]  # previous, page 1
    many = full.get("/admin/sections?page=2&articles=1").text
    assert "/admin/sections?articles=1" in many.replace("&amp;", "&")


def test_page_links_are_plain_links_with_the_current_page_marked(full):
    html = full.get("/admin/feedback?page=2").text
    nav = re.search(r'<nav class="pager" aria-label="Pages of ratings">(.*?)</nav>', html, re.S).group(1)
    assert "<script" not in html and "onclick" not in html
    assert '<span class="current" aria-current="page"><span class="sr-only">Page </span>2' in nav
    assert 'href="/admin/feedback" rel="prev"' in nav and 'href="/admin/feedback?page=3" rel="next"' in nav
    assert "Ratings 21–40 of 45 · page 2 of 3" in html


def test_a_page_past_the_end_says_so_and_links_to_the_last(full):
    response = full.get("/admin/feedback?page=9")
    assert response.status_code == 404
    assert "There is no page 9: this list has 3 pages." in response.text
    assert 'href="/admin/feedback?page=3">Go to the last page' in response.text
    assert "comment number" not in response.text


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "999999999", " 2"])
def test_a_page_that_is_not_a_page_number_is_a_clear_400(full, page):
    for path in PAGES[1:]:
        response = full.get(path, params={"page": page})
        assert response.status_code == 400, (path, page)
        assert "The page must be a whole number from 1 to 100,000." in response.text
        assert "no-store" in response.headers["cache-control"]
    assert full.get("/admin/sections", params={"articles": page}).status_code == 400


def test_a_page_asks_the_database_for_that_page_only(full):
    statements: list[str] = []
    engine = full.app.state.store.engine
    listen = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        assert full.get("/admin/feedback?page=2").status_code == 200
        assert full.get("/admin/signs?page=2").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    paged = [s for s in statements if "LIMIT" in s and "OFFSET" in s]
    assert any("FROM feedback" in s for s in paged) and any("FROM reply_signs" in s for s in paged), statements


# --- empty -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "says"), [
    ("/admin", "No unanswered questions are stored."),
    ("/admin/unanswered", "No unanswered questions are stored."),
    ("/admin/feedback", "No ratings yet."),
    ("/admin/per-day", "No replies in this period."),
    ("/admin/sections", "No section was cited in this period."),
    ("/admin/signs", "No emergency or urgent signs were recognised in this period."),
    ("/admin/pins", "No pins yet."),
])
def test_an_empty_list_says_so(empty, path, says):
    response = empty.get(path)
    assert response.status_code == 200 and says in response.text
    assert '<nav class="pager"' not in response.text
    assert empty.get(path + "?page=2").status_code == (200 if path == "/admin" else 404)


# --- the groups are worked out once per change ---------------------------------------------------
def test_the_groups_are_worked_out_again_only_when_the_questions_change(full, monkeypatch):
    from chatbot.serve.admin import report

    calls = []
    real = report.group_questions
    monkeypatch.setattr(report, "group_questions", lambda *a, **k: calls.append(1) or real(*a, **k))
    full.get("/admin"), full.get("/admin/unanswered"), full.get("/admin/unanswered?page=2")
    assert len(calls) <= 1
    before, count = len(calls), group_count(full)
    full.app.state.store.record_replies([declined(999, 0)])
    assert f"All {count + 1} groups" in full.get("/admin").text
    assert len(calls) == before + 1


# --- page arithmetic ---------------------------------------------------------------------------
def test_paging_shows_a_window_of_page_numbers():
    paging = Paging(7, 10, 200, "/admin/x")
    labels = [link.label for link in paging.links()]
    assert labels == ["Previous", "1", "…", "5", "6", "7", "8", "9", "…", "20", "Next"]
    assert (paging.offset, paging.pages, paging.first_row, paging.last_row) == (60, 20, 61, 70)
    assert Paging(1, 10, 10, "/admin/x").links() == [] and Paging(1, 10, 0, "/admin/x").pages == 1
    assert Paging(2, 10, 11, "/admin/x", keep={"articles": "3"}).href(1) == "/admin/x?articles=3"
    assert page_number(None) == page_number("") == 1 and page_number("12") == 12
