"""The admin area's pages: a short overview, and one page per list, each paged in the store.

    add_pages(router, review, signed_in=..., render=...)

    GET /admin               totals, the largest groups of unanswered questions, links, exports
    GET /admin/unanswered    unanswered questions grouped by meaning, with the form to pin sections
    GET /admin/feedback      ratings to review, newest first
    GET /admin/per-day       replies per day, by kind
    GET /admin/sections      replies per article and per section cited
    GET /admin/signs         emergency and urgent signs recognised
    GET /admin/pins          the curated answers, each with a form to remove it

Every list takes `?page=N` (the sections page also `?articles=N` for its article table) and
asks the store for that page only (LIMIT/OFFSET). A page that is not a number answers 400
(`NoSuchPage`); a page past the end answers 404 with a link back to the last one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from chatbot.serve.admin.paging import Paging, page_number
from chatbot.serve.admin.report import EXPORTS, Review
from chatbot.store.records import Page

DAYS = 30  # the period the counts cover
PER_PAGE = {"groups": 10, "feedback": 20, "days": 14, "sections": 25, "articles": 25, "signs": 25, "pins": 20}
OVERVIEW_GROUPS = 3
NOTICES = {"pinned": "The pin is saved.", "unpinned": "The pin is removed."}
PAGES = [  # (path, name in the menu, page title)
    ("", "Overview", "Overview"),
    ("/unanswered", "Unanswered", "Unanswered questions, grouped by meaning"),
    ("/feedback", "Feedback", "Feedback to review"),
    ("/per-day", "Per day", "Replies per day, by kind"),
    ("/sections", "Articles and sections", "Articles and sections cited"),
    ("/signs", "Emergency signs", "Emergency and urgent signs recognised"),
    ("/pins", "Curated answers", "Curated answers (pins)"),
]


def add_pages(router: APIRouter, review: Review, *, signed_in: Callable[[Request], Awaitable[str]],
              render: Callable[..., HTMLResponse]) -> None:
    """`signed_in(request)` checks the session and returns its CSRF token (for the forms);
    `render(template, status, **context)` makes the response."""
    prefix = router.prefix
    menu = [{"href": prefix + path, "name": name, "path": path} for path, name, _ in PAGES]
    titles = {path: title for path, _, title in PAGES}

    def show(request: Request, path: str, template: str, csrf: str, lists: list[Paging], **context: Any):
        status = 404 if any(p.past_the_end for p in lists) else 200
        notice = NOTICES.get(request.query_params.get("done", ""), "")
        context = {"days": DAYS, "since": review.store.since(DAYS), **context}
        return render(template, status, csrf=csrf, menu=menu, here=path, title=titles[path], notice=notice,
                      **context)

    async def listing(request: Request, path: str, kind: str, fetch: Callable[[int, int], Page],
                      param: str = "page", keep: dict[str, str] | None = None) -> tuple[Page, Paging]:
        number = page_number(request.query_params.get(param))
        per_page = PER_PAGE[kind]
        page = await anyio.to_thread.run_sync(fetch, per_page, (number - 1) * per_page)
        return page, Paging(number, per_page, page.total, prefix + path, param, keep or {})

    @router.get("")
    async def overview(request: Request) -> HTMLResponse:
        csrf = await signed_in(request)
        data = await anyio.to_thread.run_sync(partial(review.overview, DAYS, OVERVIEW_GROUPS))
        return show(request, "", "overview.html", csrf, [], exports=EXPORTS, **data)

    @router.get("/unanswered")
    async def unanswered(request: Request) -> HTMLResponse:
        csrf = await signed_in(request)
        groups, paging = await listing(request, "/unanswered", "groups", review.groups_page)
        return show(request, "/unanswered", "unanswered.html", csrf, [paging], groups=groups.rows, paging=paging,
                    sections=review.sections(), store_questions=review.store.store_questions)

    @router.get("/feedback")
    async def feedback(request: Request) -> HTMLResponse:
        csrf = await signed_in(request)
        rows, paging = await listing(request, "/feedback", "feedback", review.store.feedback_page)
        return show(request, "/feedback", "feedback.html", csrf, [paging], feedback=rows.rows, paging=paging)

    @router.get("/per-day")
    async def per_day(request: Request) -> HTMLResponse:
        csrf = await signed_in(request)
        rows, paging = await listing(request, "/per-day", "days", partial(review.store.days_page, DAYS))
        kinds = await anyio.to_thread.run_sync(review.store.kinds, DAYS)
        return show(request, "/per-day", "per_day.html", csrf, [paging], per_day=rows.rows, kinds=kinds,
                    paging=paging)

    @router.get("/sections")
    async def sections(request: Request) -> HTMLResponse:
        csrf = await signed_in(request)
        query = request.query_params  # each table's links keep the other table's page
        article_rows, article_paging = await listing(
            request, "/sections", "articles", partial(review.store.articles_page, DAYS), "articles",
            {"page": query["page"]} if query.get("page") else {})
        section_rows, section_paging = await listing(
            request, "/sections", "sections", partial(review.store.sections_page, DAYS), "page",
            {"articles": query["articles"]} if query.get("articles") else {})
        return show(request, "/sections", "sections.html", csrf, [article_paging, section_paging],
                    articles=article_rows.rows, article_paging=article_paging,
                    sections_cited=section_rows.rows, paging=section_paging)

    @router.get("/signs")
    async def signs(request: Request) -> HTMLResponse:
        csrf = await signed_in(request)
        rows, paging = await listing(request, "/signs", "signs", partial(review.store.signs_page, DAYS))
        return show(request, "/signs", "signs.html", csrf, [paging], signs=rows.rows, paging=paging)

    @router.get("/pins")
    async def pins(request: Request) -> HTMLResponse:
        csrf = await signed_in(request)
        rows, paging = await listing(request, "/pins", "pins", review.pins_page)
        return show(request, "/pins", "pins.html", csrf, [paging], pins=rows.rows, paging=paging)
