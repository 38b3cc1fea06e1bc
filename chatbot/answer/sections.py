"""The retrieve stage: which sections of the articles a reply answers from.

One hybrid search (search/retrieval.py) for the condensed question, shaped by what the
message says: the sections of conditions it rules out are never searched; for a reader the
articles are not written for (a child, a pregnancy) the adults' treatments are left out and
when to see a doctor is looked for; sections an admin pinned for questions like it come first;
a question about several conditions searches each and interleaves the hits. It also decides
whether the question is about the articles at all.

    finder = SectionFinder(index, retriever, topics, scope, rules, gaps, k)
    retrieval, screening = finder.find(condensed, screening, message, pins)
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chatbot.answer.conversation import Condensed, refers_back
from chatbot.answer.gaps import GapFinder
from chatbot.answer.query import HINTS
from chatbot.answer.safety import SafetyRules, Screening
from chatbot.answer.scope import Scope
from chatbot.knowledge.topics import Topics
from chatbot.search.index import SearchIndex
from chatbot.search.retrieval import Hit, HybridRetriever, Retrieval

if TYPE_CHECKING:
    from chatbot.store.pins import PinnedSections


class SectionFinder:
    def __init__(
        self, index: SearchIndex, retriever: HybridRetriever, topics: Topics, scope: Scope, rules: SafetyRules,
        gaps: GapFinder, k: int,
    ) -> None:
        self.index = index
        self.retriever = retriever
        self.topics = topics
        self.scope = scope
        self.rules = rules
        self.gaps = gaps
        self.k = k
        self._chunks = {c.id: c for c in index.chunks}
        # "is ibuprofen ok?" asks about the treatments, where the articles name medicines.
        self._medicines_in_corpus = any(rules.names_medicine(c.text) for c in index.chunks)

    def find(
        self, condensed: Condensed, screening: Screening, message: str, pins: PinnedSections | None = None,
    ) -> tuple[Retrieval, Screening]:
        """The sections for `condensed`, and the screening: out of scope if nothing is about it."""
        query = self.retriever.reader.read(condensed.question, ask=condensed.ask if condensed.reading else None)
        if condensed.inferred:  # the symptoms it is closest to, to set beside theirs
            query = replace(query, intents=tuple(dict.fromkeys([*query.intents, "symptoms"])))
        left_out = self.gaps.excluded_roles(condensed.reading)
        if left_out:  # a child, a pregnancy: what to see a doctor about, not the adult treatments
            query = replace(query, intents=tuple(dict.fromkeys([*query.intents, "see_doctor"])))
        exclude = self._ruled_out_sections(condensed)
        if left_out:
            exclude |= {c.id for c in self.index.chunks if c.role in left_out}
        retrieval = self.retriever.retrieve(query, self.k, exclude=frozenset(exclude))
        if (pinned := self._pinned(retrieval, pins)) is not None:
            return pinned, screening
        if len(condensed.topics) > 1:
            retrieval = self._retrieve_each_topic(condensed, retrieval)
        # The kind of answer asked for ("how do I treat ...") counts only for a question about
        # "it" or "this": "how do I fix my car" asks for a treatment too.
        question = condensed.question
        verdict = screening.scope
        in_scope = (
            condensed.topic is not None or retrieval.relevant or self.scope.anchored(question)
            or (verdict is not None and verdict.anchored)
            or (self._medicines_in_corpus and self.rules.names_medicine(question))
            or (bool(set(retrieval.query.intents) - HINTS) and refers_back(message))
        )
        if not in_scope:
            return retrieval, Screening("out_of_scope", "no_match")
        return retrieval, screening

    def _ruled_out_sections(self, condensed: Condensed) -> frozenset[str]:
        """The sections of the conditions a message rules out: not searched for."""
        ruled_out = set(condensed.reading.ruled_out) if condensed.reading else set()
        if not ruled_out:
            return frozenset()
        return frozenset(c.id for c in self.index.chunks
                         if ((holder := self.topics.holder(c)) is not None and holder.name in ruled_out)
                         or ((headed := self.topics.headed_for(c)) and headed <= ruled_out))

    def _pinned(self, retrieval: Retrieval, pins: PinnedSections | None) -> Retrieval | None:
        """The sections an admin pinned for questions like this one, ranked first; None if no
        pin is close or its sections are gone from the index."""
        if pins is None:
            return None
        # The vector the dense search just used (cached): pins are matched in the same space.
        vector = self.retriever.embed_query(retrieval.query.dense_text or retrieval.query.search_text)
        ids = [i for i in pins.match(vector) or [] if i in self._chunks]
        if not ids:
            return None
        ranked = [*retrieval.hits, *retrieval.rest]
        pinned = [Hit(self._chunks[i], 1.0, 1.0, 1.0) for i in ids]
        return replace(retrieval, hits=pinned, rest=[h for h in ranked if h.chunk.id not in ids], relevant=True)

    def _retrieve_each_topic(self, condensed: Condensed, combined: Retrieval) -> Retrieval:
        """For "tendonitis or tendonosis?": search once per topic and interleave the hits,
        so each topic's own sections are there to compare."""
        per_topic = [
            self.retriever.retrieve(f"{self.topics.only(condensed.question, t)} ({t})", self.k).hits
            for t in condensed.topics[:3]
        ]
        hits, seen = [], set()
        for rank in range(self.k):
            for topic_hits in per_topic:
                if rank < len(topic_hits) and topic_hits[rank].chunk.id not in seen:
                    seen.add(topic_hits[rank].chunk.id)
                    hits.append(topic_hits[rank])
        return replace(combined, hits=hits)
