"""Page numbers for the admin lists: which rows a page shows and the links to the others.

    number = page_number(request.query_params.get("page"))     # 1 when absent; NoSuchPage if not a page
    paging = Paging(number, per_page=20, total=store_page.total, path="/admin/feedback")
    paging.offset                                               # what the store query skips
    paging.links()                                              # [PageLink], for the template

The links are plain `<a href>`s, so paging works without JavaScript. Other query
parameters a page needs (a second list's page) are kept in every link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from chatbot.errors import InvalidInput

MAX_PAGE = 100_000
WINDOW = 2  # page numbers shown either side of the current one


class NoSuchPage(InvalidInput):
    """A page number that is not one (the admin area answers 400 with a page saying so)."""


def page_number(value: str | None) -> int:
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise NoSuchPage("invalid_page", f"The page must be a whole number from 1 to {MAX_PAGE:,}.")
    return int(value)


@dataclass(frozen=True)
class PageLink:
    label: str
    href: str | None  # None: no link (the current page, or a gap)
    current: bool = False
    rel: str = ""
    sr_prefix: str = ""  # said by screen readers only, around the label: "Page " 3, "Next" " page"
    sr_suffix: str = ""


@dataclass(frozen=True)
class Paging:
    number: int
    per_page: int
    total: int  # rows in the whole list
    path: str
    param: str = "page"
    keep: dict[str, str] = field(default_factory=dict)  # other query parameters every link carries

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def past_the_end(self) -> bool:
        return self.number > self.pages

    @property
    def first_row(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_row(self) -> int:
        return min(self.offset + self.per_page, self.total)

    def href(self, number: int) -> str:
        query = {**self.keep, **({self.param: str(number)} if number > 1 else {})}
        return f"{self.path}?{urlencode(query)}" if query else self.path

    def links(self) -> list[PageLink]:
        """Previous, the first, a window around this page, the last, next; empty for one page."""
        if self.pages == 1:
            return []
        out, here = [], min(self.number, self.pages)  # past the end: links as from the last page
        if self.number > 1:
            out.append(PageLink("Previous", self.href(min(self.number - 1, self.pages)), rel="prev",
                                sr_suffix=" page"))
        shown = sorted({1, self.pages, *range(max(1, here - WINDOW), min(self.pages, here + WINDOW) + 1)})
        last = 0
        for n in shown:
            if n > last + 1:
                out.append(PageLink("…", None))
            current = n == self.number
            out.append(PageLink(str(n), None if current else self.href(n), current=current, sr_prefix="Page "))
            last = n
        if self.number < self.pages:
            out.append(PageLink("Next", self.href(self.number + 1), rel="next", sr_suffix=" page"))
        return out
