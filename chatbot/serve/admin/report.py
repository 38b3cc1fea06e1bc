"""What the admin pages show, as plain data: the store's counts, unanswered questions grouped
by meaning with the bot's own embedding model, the pins and whether their sections still
exist, and the rows behind the CSV and JSON exports.

    review = Review(bot, store)
    review.overview(days=30)               # totals and the largest groups, for /admin
    review.groups_page(limit=10, offset=0) # a page of groups, each with sections to pin
    review.pins_page(limit=20, offset=0)   # a page of pins, with what is gone from the index
    data = review.page(days=30)            # everything at once, for /admin/report.json
    review.make_pin(label, keys, chunk_ids)
    review.export("feedback")              # -> (column names, rows)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from chatbot.errors import InvalidInput
from chatbot.store.groups import DEFAULT_SIMILARITY, Group, group_questions
from chatbot.store.pins import DEFAULT_THRESHOLD
from chatbot.store.records import Page
from chatbot.store.store import Store

EXPORTS = ("feedback", "replies", "unanswered")
MAX_PIN_SECTIONS = 5
REASONS = {"out_of_scope": "declined as off-topic", "not_covered": "not in the articles", "rated_down": "rated down"}


class Review:
    def __init__(self, bot: Any, store: Store, min_similarity: float = DEFAULT_SIMILARITY,
                 cache_size: int = 5000) -> None:
        self.bot, self.store, self.min_similarity = bot, store, min_similarity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._groups: tuple[Any, Any, list[Group]] | None = None  # (data version, retriever, groups)

    # --- the page -------------------------------------------------------------------------
    def page(self, days: int = 30, feedback_rows: int = 50) -> dict[str, Any]:
        report = self.store.report(days)
        groups = self.groups()
        return {
            **{k: v for k, v in asdict(report).items() if k != "sections"},
            "sections_cited": report.sections,
            "feedback": self.store.feedback_rows(limit=feedback_rows, newest_first=True),
            "groups": [self._group_out(g) for g in groups],
            "pins": self.pins(),
            "sections": self.sections(),
            "kinds": sorted({k for day in report.per_day for k in day if k != "day"}),
            "storage": self.storage(),
        }

    def overview(self, days: int = 30, groups: int = 3) -> dict[str, Any]:
        """The short front page: totals, the largest few groups, what is stored."""
        every = self.groups()
        return {
            "days": days, "since": self.store.since(days), "totals": self.store.totals(days),
            "groups": [_group_brief(g) for g in every[:groups]], "group_count": len(every),
            "storage": self.storage(),
        }

    def storage(self) -> dict[str, Any]:
        return {"database": self.store.backend, "retention_days": self.store.retention_days,
                "store_questions": self.store.store_questions, "rows": self.store.counts()}

    def groups(self, limit: int = 2000) -> list[Group]:
        """The groups of the newest `limit` unanswered questions, worked out again only when
        those questions changed (a reply or rating was stored, or old rows were deleted)."""
        key = (self.store.unanswered_version(), limit, self.min_similarity)
        with self._lock:
            cached = self._groups
        if cached is not None and cached[0] == key and cached[1] is self.bot.retriever:
            return cached[2]
        questions = self.store.unanswered(limit)
        groups = group_questions(questions, self.vectors([q.question for q in questions]), self.min_similarity)
        with self._lock:
            self._groups = (key, self.bot.retriever, groups)
        return groups

    def groups_page(self, limit: int, offset: int = 0) -> Page:
        """A page of groups, largest first, each with the sections the search suggests for it
        (the search runs for the groups on this page only)."""
        every = self.groups()
        return Page([self._group_out(g) for g in every[offset:offset + limit]], len(every), offset, limit)

    def _group_out(self, group: Group) -> dict[str, Any]:
        return {
            "title": group.title, "size": group.size, "keys": group.keys,
            "reasons": {REASONS[k]: v for k, v in group.reasons.items()},
            "questions": [m.question for m in group.members],
            "suggested": self.suggest(group.title),
        }

    def sections(self) -> list[dict[str, str]]:
        """Every section of the current index, in article order, for the pin form."""
        return [{"id": c.id, "label": _label(c), "article_id": c.doc_id} for c in self.bot.index.chunks]

    def suggest(self, question: str, k: int = 4) -> list[dict[str, str]]:
        """The sections the bot's search ranks first for a question: a starting point for a pin."""
        hits = self.bot.retriever.retrieve(question, k).hits
        return [{"id": hit.chunk.id, "label": _label(hit.chunk)} for hit in hits]

    def pins(self) -> list[dict[str, Any]]:
        """Each pin with its sections, and which of them the current index no longer has."""
        return self._pins_out(self.store.pins())

    def pins_page(self, limit: int, offset: int = 0) -> Page:
        page = self.store.pins_page(limit, offset)
        return Page(self._pins_out(page.rows), page.total, offset, limit)

    def _pins_out(self, pins: Sequence[Any]) -> list[dict[str, Any]]:
        chunks = {c.id: c for c in self.bot.index.chunks}
        model_id = self.bot.retriever.embedder.model_id
        out = []
        for pin in pins:
            sections = [{"id": i, "label": _label(chunks[i]) if i in chunks else i, "gone": i not in chunks}
                        for i in pin.chunk_ids]
            out.append({
                "id": pin.id, "label": pin.label, "questions": pin.questions, "created_at": pin.created_at,
                "threshold": pin.threshold, "sections": sections, "gone": [s["id"] for s in sections if s["gone"]],
                "active": pin.model_id == model_id and any(not s["gone"] for s in sections),
                "other_model": pin.model_id != model_id,
            })
        return out

    # --- changes --------------------------------------------------------------------------
    def make_pin(self, label: str, keys: Sequence[str], chunk_ids: Sequence[str]) -> int:
        label, chunk_ids = label.strip(), list(dict.fromkeys(i for i in chunk_ids if i))
        known = {c.id for c in self.bot.index.chunks}
        if not 1 <= len(label) <= 200:
            raise InvalidInput("invalid_label", "give the pin a name of 1 to 200 characters")
        if not 1 <= len(chunk_ids) <= MAX_PIN_SECTIONS:
            raise InvalidInput("invalid_sections", f"choose 1 to {MAX_PIN_SECTIONS} sections")
        if unknown := [i for i in chunk_ids if i not in known]:
            raise InvalidInput("unknown_section", f"no such section in the index: {', '.join(unknown)}")
        questions = self.store.questions_for(keys)
        if not questions:
            raise InvalidInput("no_questions", "none of the group's questions are stored any more")
        centroid = self.vectors(questions).mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        pin_id = self.store.add_pin(label, chunk_ids, centroid.tolist(), self.bot.retriever.embedder.model_id,
                                    DEFAULT_THRESHOLD, len(questions))
        refresh = getattr(self.bot.pins, "refresh", None)
        if callable(refresh):
            refresh()  # this replica answers from the pin at once; the others within seconds
        return pin_id

    def delete_pin(self, pin_id: int) -> bool:
        deleted = self.store.delete_pin(pin_id)
        refresh = getattr(self.bot.pins, "refresh", None)
        if callable(refresh):
            refresh()
        return deleted

    # --- exports --------------------------------------------------------------------------
    def export(self, name: str) -> tuple[list[str], list[dict[str, Any]]]:
        if name == "feedback":
            rows = [{**r, "sections": "; ".join(s["label"] for s in r["sections"] or [])}
                    for r in self.store.feedback_rows(newest_first=True)]
            return ["id", "created_at", "rating", "comment", "question", "answer", "kind", "sections", "source",
                    "message_id"], rows
        if name == "replies":
            rows = [{**r, "sections": "; ".join(s["label"] for s in r["sections"]),
                     "signs": "; ".join(s["sign"] for s in r["signs"])} for r in self.store.reply_rows()]
            return ["id", "created_at", "day", "kind", "question", "not_covered", "alert_level", "signs", "sections",
                    "message_id"], rows
        if name == "unanswered":
            rows = [{"group": n, "group_size": g.size, "group_title": g.title, "question": m.question,
                     "reasons": "; ".join(REASONS[r] for r in m.reasons), "created_at": m.created_at}
                    for n, g in enumerate(self.groups(), start=1) for m in g.members]
            return ["group", "group_size", "group_title", "question", "reasons", "created_at"], rows
        raise KeyError(name)

    # --- vectors --------------------------------------------------------------------------
    def vectors(self, questions: Sequence[str]) -> np.ndarray:
        """Each question as the bot's search embeds it (spelling corrected, read as a query),
        so groups, pin centroids and the bot's pin matching share one space. Cached by text."""
        dim = self.bot.retriever.embedder.dim
        out = np.zeros((len(questions), dim), np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for row, question in enumerate(questions):
                if question in self._vectors:
                    out[row] = self._vectors[question]
                else:
                    missing.setdefault(question, []).append(row)
        texts = list(missing)
        reader = self.bot.retriever.reader
        queries = [reader.read(reader.correct(q)) for q in texts]
        for start in range(0, len(texts), 64):
            batch = [q.dense_text or q.search_text for q in queries[start:start + 64]]
            vectors = self.bot.retriever.embedder.embed(batch)
            with self._lock:
                for text, vector in zip(texts[start:start + 64], vectors, strict=True):
                    out[missing[text]] = vector
                    self._vectors[text] = vector
                while len(self._vectors) > self._cache_size:
                    self._vectors.popitem(last=False)
        return out


def _group_brief(group: Group) -> dict[str, Any]:
    return {"title": group.title, "size": group.size, "reasons": {REASONS[k]: v for k, v in group.reasons.items()}}


def _label(chunk: Any) -> str:
    return f"{chunk.doc_title} › {chunk.section}" if chunk.section != chunk.doc_title else chunk.doc_title
