"""Stage 6: composing the answer from the retrieved sections.

`Composer` is the interface; an LLM-backed composer (a LangChain chat model told to answer
only from the given sections) can implement it without touching retrieval or the rails.

`ExtractiveComposer`, the default, writes no medical words of its own: it picks from the
retrieved sections the sentences, list items and table rows that answer this question and
lays them out under the section names with citation markers [1], [2]. Only short connecting
phrases (from `rules/replies.yaml`) are its own. It never says what a person has: for a
described symptom it reports which causes the article links to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from chatbot.answer.query import WEAK_INTENTS, Query, QueryRules, load_query_rules
from chatbot.answer.reply import Alert, Citation, Notice
from chatbot.answer.scope import ScopeRulesFile
from chatbot.answer.wording import Wording, load_phrases
from chatbot.knowledge.chunks import Chunk
from chatbot.knowledge.markdown import Unit, parse_blocks
from chatbot.knowledge.topics import Topic, Topics
from chatbot.rules import load
from chatbot.search.retrieval import Hit, keywords
from chatbot.text import unnumbered

_TIME = re.compile(r"\b\d+(-\d+)?\s*(weeks?|minutes?|days?|months?|hours?)\b", re.I)
_MEDICINE = re.compile(r"\b(nsaids?|medications?|anti-inflammatory|corticosteroid|injections?)\b", re.I)
_CLOSE = 0.08  # hits this close to the best one are worth showing too...
_CLOSE_DENSE = 0.12  # ...if their meaning is close too, not just a shared word
_SYMPTOM_QUESTIONS = {"describes_symptoms", "identify"}
_DEFINING_QUESTIONS = {"what_is", "cause_of", "compare"}  # a condition's definition answers them
_OVERVIEW_QUESTIONS = {"cause_of", "why", "identify"}
_NUMBERED_LIST = re.compile(r"^\s*\d+[.)]\s", re.M)
_DIRECT_QUESTIONS = {"avoid", "self_care", "treatment", "prevention", "see_doctor"}  # yes/no, "should I"


@dataclass(frozen=True)
class ComposeRequest:
    question: str  # the question as it stands alone (follow-ups completed)
    query: Query
    hits: list[Hit]
    topics: tuple[str, ...] = ()  # the conditions it is about, if known
    dosing: bool = False
    rest: list[Hit] = field(default_factory=list)  # ranked below `hits`: where a definition may be
    # How close each unit of the retrieved sections is to what is asked: {(chunk id, unit text): score}
    unit_scores: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass
class Draft:
    body: str  # Markdown with [n] markers
    citations: list[Citation] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)  # what the body was built from
    alert: Alert | None = None  # care needed now: goes first
    notices: list[Notice] = field(default_factory=list)


class Composer(Protocol):
    def compose(self, request: ComposeRequest) -> Draft: ...


class ExtractiveComposer:
    def __init__(
        self, topics: Topics | None = None, max_sections: int = 3, max_units: int = 6, rules: QueryRules | None = None,
        wording: Wording | None = None,
    ) -> None:
        self.topics = topics or Topics([])
        self.max_sections = max_sections
        self.max_units = max_units
        self.rules = rules or load_query_rules()
        self.phrases = load_phrases()["answer"]
        self.wording = wording or Wording("", "the articles", (), 1)
        self.many_articles = False  # set by the bot from its index: labels then name their article
        self.openings: dict[str, list[Chunk]] = {}  # per article, its conditions' openings (know())
        scope_rules = load("scope.yaml", ScopeRulesFile)
        self._place_and_pain = frozenset(keywords(" ".join([*self.rules.place_and_pain, *scope_rules.body_parts])))

    def compose(self, request: ComposeRequest) -> Draft:
        intents = set(request.query.intents)
        terms = set(keywords(request.query.search_text))
        overview = self._overview(request)
        picked = overview or [
            (hit, units) for hit in self._sections(request)
            if (units := self._units(hit.chunk, intents, terms, request))
        ]
        if request.unit_scores and len(picked) > 1 and intents & _DIRECT_QUESTIONS:
            # "Should I ...?": the section with the unit that answers exactly that comes first.
            best = {id(h): max((request.unit_scores.get((h.chunk.id, u.text), 0.0) for u in us), default=0.0)
                    for h, us in picked}
            picked.sort(key=lambda pair: -best[id(pair[0])])
        if not picked:
            return Draft(self.wording.fill(self.phrases["nothing_found"]))

        lines: list[str] = []
        if overview:
            lines.append(self.phrases["overview"])
        elif intents & _SYMPTOM_QUESTIONS and not self.topics.mentioned(request.query.text):
            lines.append(self.phrases["symptom_description"])
        citations = []
        for n, (hit, units) in enumerate(picked, start=1):
            lines.append(self._render(hit.chunk, units, n))
            chunk = hit.chunk
            citations.append(Citation(n, chunk.id, chunk.section, _span(chunk.text, units), hit.score,
                                      self.label(chunk), chunk.doc_id, chunk.doc_title))
        return Draft("\n\n".join(lines), citations, [hit.chunk for hit, _ in picked])

    # --- which sections ----------------------------------------------------------------
    def _sections(self, request: ComposeRequest) -> list[Hit]:
        """Per topic: the best hit and those close behind it, leaving out other conditions."""
        topics = request.topics or (None,)
        chosen: list[Hit] = []
        # "What is X and why does it hurt?": X's definition may rank lower. Definitions are one
        # or two lines, so they get a section more.
        defining = bool(request.topics) and bool(set(request.query.intents) & _DEFINING_QUESTIONS)
        per_topic = (self.max_sections if len(topics) == 1 else 2) + defining
        for topic in topics:
            related = [h for h in request.hits if self.topics.related(h.chunk, topic)]
            if defining:
                related += [h for h in request.rest if self.topics.related(h.chunk, topic) and self._defines(h.chunk)]
            chosen += [h for h in self._close(related, request)[:per_topic] if h not in chosen]
        return chosen or request.hits[:1]

    def _close(self, hits: list[Hit], request: ComposeRequest) -> list[Hit]:
        if not hits:
            return []
        top, intents = hits[0], set(request.query.intents)
        if "duration" in intents and _TIME.search(top.chunk.text):
            return [top]  # a time frame belongs to its own section; others would mislead
        defining = bool(intents & _DEFINING_QUESTIONS) or len(request.topics) > 1
        extra = [
            h for h in hits[1:]
            if (h.score >= top.score - _CLOSE and (h.dense >= top.dense - _CLOSE_DENSE
                                                   or self._answers_intent(h.chunk, intents)))
            or (defining and self._same_topic(h.chunk, top.chunk) and self._defines(h.chunk))
            or (intents & _SYMPTOM_QUESTIONS and _is_table_or_summary(h.chunk))
        ]
        # A question that asks two things ("what is it and why does it hurt?") gets both.
        for name in sorted(intents - WEAK_INTENTS):
            best = next((h for h in hits[1:] if self._same_topic(h.chunk, top.chunk)
                         and self._answers_intent(h.chunk, {name})), None)
            if best is not None and best not in extra:
                extra.append(best)
        if defining:  # a condition's own definition before anything else about it
            extra.sort(key=lambda h: not (self._same_topic(h.chunk, top.chunk) and self._defines(h.chunk)))
            if "what_is" in intents and not self._defines(top.chunk):
                definitions = [h for h in extra if self._same_topic(h.chunk, top.chunk) and self._defines(h.chunk)]
                return [*definitions, top, *(h for h in extra if h not in definitions)]
        return [top, *extra]

    def _overview(self, request: ComposeRequest) -> list[tuple[Hit, list[Unit]]]:
        """For a cause question that names only the place and the pain: every condition the
        article describes, by its opening line, in the article's order."""
        if request.topics or request.dosing or not set(request.query.intents) & _OVERVIEW_QUESTIONS:
            return []
        general = set(self._place_and_pain)
        for hit in request.hits[:1]:  # the words of the article's own title and headings
            general |= set(keywords(" ".join([hit.chunk.doc_title, *hit.chunk.heading_path[:1]])))
        if set(keywords(request.question)) - general:
            return []
        top_article = request.hits[0].chunk.doc_id if request.hits else ""
        ranked = {h.chunk.id: h for h in [*request.hits, *request.rest]}
        picked = []
        for chunk in self.openings.get(top_article, []):
            units = [u for block in parse_blocks(chunk.text) for u in block.units()]
            if units:
                picked.append((ranked.get(chunk.id) or Hit(chunk, 0.0, 0.0, 0.0), units[:1]))
        return picked if len(picked) >= 2 else []

    def know(self, chunks: list[Chunk]) -> None:
        """Note each article's condition openings (a condition's first overview, the one highest
        in its section), in the article's order: a general cause question lists them all."""
        self.openings = {}
        best: dict[tuple[str, str], Chunk] = {}
        for chunk in chunks:
            topic = self._topic_of(chunk)
            if topic is None or chunk.role != "overview" or chunk.part != 1:
                continue
            known = best.get((chunk.doc_id, topic.name))
            if known is None or len(chunk.heading_path) < len(known.heading_path):
                best[(chunk.doc_id, topic.name)] = chunk
        order = {t.name: i for i, t in enumerate(self.topics.topics)}
        for (doc_id, _name), chunk in sorted(best.items(), key=lambda item: order.get(item[0][1], 0)):
            self.openings.setdefault(doc_id, []).append(chunk)

    # --- which sentences, items and rows -------------------------------------------------
    def _units(self, chunk: Chunk, intents: set[str], terms: set[str], request: ComposeRequest) -> list[Unit]:
        units = [u for block in parse_blocks(chunk.text) for u in block.units()]
        if request.dosing:
            return [u for u in units if _MEDICINE.search(u.text)][: self.max_units]
        if "duration" in intents and (timed := [u for u in units if _TIME.search(u.text)]):
            return timed[: self.max_units]
        rows = [u for u in units if u.kind == "row" or " = " in u.text]
        if rows and len(rows) >= len(units) - 1:
            # A table or a summary list: only the rows that share words with the question.
            ranked = sorted(((_overlap(u, terms), i) for i, u in enumerate(rows)), reverse=True)
            chosen = [rows[i] for i in sorted(i for score, i in ranked if score > 0)[:3]]
            chosen = chosen or (rows if "identify" in intents else [])
            caveats = [u for u in units if u.kind == "sentence" and u.text.endswith(":") and not _is_glue(u)]
            return caveats + chosen if chosen else []
        content = [u for u in units if not _is_glue(u)] or units
        if self._answers_intent(chunk, intents) or "what_is" in intents or len(units) <= 2:
            # The whole section answers it. Items that match what is asked ("will orthotics
            # help?") come first; the section's and the condition's names ask nothing.
            named = " ".join([*chunk.heading_path, *request.topics])
            asked = terms - set(keywords(named))
            if all(u.kind == "item" for u in content):
                # Items that share the ask's words first; in a list without numbers (no steps in
                # order), then those closest to it in meaning.
                scores = {} if _NUMBERED_LIST.search(chunk.text) else request.unit_scores
                content.sort(key=lambda u: (_overlap(u, asked) == 0 and _overlap_parent(u, asked) == 0,
                                            u.parent != "" or -scores.get((chunk.id, u.text), 0.0)))
            return content
        matching = [u for u in content if _overlap(u, terms) > 0 and not u.text.endswith(":")]
        return matching[: self.max_units]

    def _answers_intent(self, chunk: Chunk, intents: set[str]) -> bool:
        strong = (intents - WEAK_INTENTS) or intents
        return any(chunk.role in self.rules.intent(name).roles for name in strong)

    def _topic_of(self, chunk: Chunk) -> Topic | None:
        return self.topics.holder(chunk)

    def _same_topic(self, a: Chunk, b: Chunk) -> bool:
        topic = self._topic_of(a)
        return topic is not None and topic is self._topic_of(b)

    def _defines(self, chunk: Chunk) -> bool:
        """A condition's opening line or its "what it is" part."""
        return chunk.role == "overview" and self._topic_of(chunk) is not None

    # --- layout --------------------------------------------------------------------------
    def _render(self, chunk: Chunk, units: list[Unit], n: int) -> str:
        lines = [f"**{self.label(chunk)}** [{n}]"]
        parent_line: dict[str, int] = {}
        for unit in units:
            after_list = lines[-1].startswith("- ")
            if unit.kind == "sentence":  # consecutive sentences make one paragraph
                if len(lines) > 1 and lines[-1] and not after_list:
                    lines[-1] += " " + unit.text
                else:
                    lines += ["", unit.text] if after_list else [unit.text]
                continue
            if len(lines) > 1 and lines[-1] and not after_list:
                lines.append("")  # a list after a paragraph starts a new block
            if unit.kind == "row" and len(unit.cells) == 2:
                lines.append(f"- **{unit.cells[1]}** {self.phrases['likely_cause']}: {unit.cells[0]}")
            elif unit.kind == "item" and unit.parent:
                if unit.parent in parent_line:  # nested items join their parent's line
                    at = parent_line[unit.parent]
                    lines[at] += (": " if lines[at] == f"- {unit.parent}" else "; ") + unit.text
                else:
                    lines.append(f"- {unit.parent}: {unit.text}")
                    parent_line[unit.parent] = len(lines) - 1
            else:
                lines.append(f"- {unit.text}")
                if unit.kind == "item":
                    parent_line[unit.text] = len(lines) - 1
        return "\n".join(lines)

    def label(self, chunk: Chunk) -> str:
        """The section's own heading with its parent: "Heel Spur › Symptoms"; a
        condition alone when its parent only groups conditions; with the article's title first
        when the corpus has more than one article."""
        path = [unnumbered(p) for p in chunk.heading_path[-2:]] or [chunk.doc_title]
        if len(path) == 2 and self.topics.heading(chunk) is not None:
            path = path[1:]
        label = " › ".join(path)
        if self.many_articles and label != chunk.doc_title:
            label = f"{chunk.doc_title}: {label}"
        return label


def _is_glue(unit: Unit) -> bool:
    """A short lead-in that only introduces what follows ("When you see a healthcare provider:").
    A longer one can carry a caveat ("While this isn't a substitute for professional diagnosis,
    here are some clues:") and stays."""
    return unit.kind == "sentence" and unit.text.endswith(":") and len(unit.text.split()) <= 8


def _overlap(unit: Unit, terms: set[str]) -> int:
    return len(terms.intersection(keywords(unit.text)))


def _overlap_parent(unit: Unit, terms: set[str]) -> int:
    return len(terms.intersection(keywords(unit.parent))) if unit.parent else 0


def _span(text: str, units: list[Unit]) -> str:
    """The shortest stretch of the chunk text that holds every unit used: a checkable quote."""
    positions = [(text.find(u.text), len(u.text)) for u in units if u.text in text]
    if not positions:
        return ""
    start = min(p for p, _ in positions)
    end = max(p + length for p, length in positions)
    return text[start:end]


def _is_table_or_summary(chunk: Chunk) -> bool:
    return "|" in chunk.text or " = " in chunk.text
