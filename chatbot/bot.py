"""`Chatbot`: the one place that wires the stages together.

    message + history
      -> condense   (conversation.py: make a follow-up stand alone)
      -> input rails (triage.py first: signs that need care now, emergency or urgent;
                      then safety.py: smalltalk, scope, dosing)
      -> retrieve   (sections.py: hybrid search over the index, shaped by the message)
      -> compose    (compose.py: the answer, with citations)
      -> output rails (safety.py: scrub, check citations, add red flags and disclaimer)
      -> Reply

The stages are LangChain runnables piped into one chain (`Chatbot.chain`); each is a plain
method on a `Turn` that can be tested alone. The bot holds no per-conversation state: the
caller passes the history, so one instance serves every visitor.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LangChainDocument
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnableSequence
from pydantic import ConfigDict

from chatbot.answer.compose import Composer, ComposeRequest, Draft, ExtractiveComposer
from chatbot.answer.conversation import Condensed, condense, refers_back, validate_history
from chatbot.answer.gaps import GapFinder
from chatbot.answer.reading import MessageReader
from chatbot.answer.red_flags import RedFlags
from chatbot.answer.reply import ESCALATIONS, Alert, Reply
from chatbot.answer.safety import SafetyRules, Screening, finalize, load_safety_rules, screen
from chatbot.answer.scope import Scope
from chatbot.answer.sections import SectionFinder
from chatbot.answer.symptoms import SymptomMatcher
from chatbot.answer.triage import Triage
from chatbot.answer.wording import Article, Wording, load_phrases
from chatbot.config import Settings
from chatbot.knowledge.topics import Topics
from chatbot.search.batching import BatchingEmbedder
from chatbot.search.cache import CachedEmbedder
from chatbot.search.embeddings import Embedder, load_embedder
from chatbot.search.index import SearchIndex
from chatbot.search.indexing import open_index
from chatbot.search.retrieval import HybridRetriever, Retrieval

if TYPE_CHECKING:
    from chatbot.store.pins import PinnedSections

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Turn:
    """What one reply knows so far; each stage returns a copy with its part filled in."""

    message: str
    history: list[dict[str, str]] = field(default_factory=list)
    condensed: Condensed | None = None
    screening: Screening | None = None
    retrieval: Retrieval | None = None
    draft: Draft | None = None


class Chatbot:
    pins: PinnedSections | None = None  # curated answers (chatbot/store/pins.py), set by the server

    def __init__(
        self, index: SearchIndex, embedder: Embedder, composer: Composer | None = None,
        rules: SafetyRules | None = None, k: int = 5, settings: Settings | None = None,
        triage: Triage | None = None, triage_dir: Path | None = None,
    ) -> None:
        self.index = index
        self.settings = settings or Settings()
        # Triage and retrieval share embeddings: the message triage embeds first is not embedded again.
        embedder = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
        self.retriever = HybridRetriever(index, embedder)
        self.triage = triage or Triage.build(embedder, cache_dir=triage_dir)
        self.topics = Topics(index.topics, index.glossary)
        self.reader = MessageReader(self.topics)
        self.symptoms = SymptomMatcher.of(index, self.topics, embedder)
        self.rules = rules or load_safety_rules()
        known_words = getattr(embedder, "known_words", None)
        self.scope = Scope.from_index(index, self.topics, known_words() if callable(known_words) else ())
        articles = [Article(d["id"], d["title"], d.get("covers", ""), tuple(d.get("questions", ())))
                    for d in index.manifest["corpus"]["documents"]]
        self.wording = Wording.from_corpus(self.settings, articles, index.chunks, index.topics)
        self.composer = composer or ExtractiveComposer(self.topics, wording=self.wording)
        self.composer.many_articles = len(articles) > 1
        if isinstance(self.composer, ExtractiveComposer):
            self.composer.know(index.chunks)
        spec = self.rules.data["red_flags"]
        self.red_flags = RedFlags.from_chunks(index.chunks, embedder.embed, spec["fallback"], spec["heading"],
                                              int(spec["shown"]))
        audiences = {d["id"]: d.get("audience", "adults") for d in index.manifest["corpus"]["documents"]}
        self.gaps = GapFinder(self.scope, self.topics, index.chunks, audiences, self.wording)
        self.k = k
        self.sections = SectionFinder(index, self.retriever, self.topics, self.scope, self.rules, self.gaps, k)
        self._chunks = {c.id: c for c in index.chunks}
        self._positions = {c.id: i for i, c in enumerate(index.chunks)}
        # The chunks' vectors, read out of FAISS once: the output rails compare against them.
        self._chunk_vectors = self.retriever.vectors
        self._replies = load_phrases()
        self.chain: Runnable = (
            RunnableLambda(self.condense, name="condense")
            | RunnableLambda(self.input_rails, name="input_rails")
            | RunnableLambda(self.retrieve, name="retrieve")
            | RunnableLambda(self.compose, name="compose")
            | RunnableLambda(self.output_rails, name="output_rails")
        )
        self._until_output_rails = RunnableSequence(*self.chain.steps[:-1])

    @classmethod
    def from_settings(cls, settings: Settings | None = None, rebuild: bool = False, batch: bool = False) -> Chatbot:
        """Load the model and the index named by `settings`; with `rebuild`, build a missing
        or stale index first. With `batch` (a server), questions asked at the same time are
        embedded together (see batching.py)."""
        settings = settings or Settings.load()
        embedder = load_embedder(settings.model_path, settings.embedder)
        if batch:
            embedder = BatchingEmbedder(embedder)
        index = open_index(
            settings.index_dir, settings.corpus_dir, embedder, settings.max_chunk_tokens, rebuild=rebuild
        )
        return cls(index, embedder, settings=settings, triage_dir=settings.index_dir / "triage")

    def reply(self, message: str, history: list[dict[str, str]] | None = None) -> Reply:
        """Answer `message`, given the conversation so far. Any text gets a reply."""
        return self.run(message, history)[1]

    def run(self, message: str, history: list[dict[str, str]] | None = None) -> tuple[Turn, Reply]:
        """The reply, and the `Turn` it was built from (what was searched and what was found):
        `chain` run in two parts so evaluations can see inside."""
        if not isinstance(message, str):
            raise TypeError(f"message must be a str, not {type(message).__name__}")
        turn = self._until_output_rails.invoke(Turn(_clean(message), validate_history(history)))
        return turn, self.output_rails(turn)

    def stream(self, message: str, history: list[dict[str, str]] | None = None) -> Iterator[str | Reply]:
        """The reply's text in pieces as it is written out, then the whole `Reply`."""
        reply = self.reply(message, history)
        yield from reply.pieces()
        yield reply

    # --- the stages ----------------------------------------------------------------------
    def condense(self, turn: Turn) -> Turn:
        # Conditions are recognised by name, so names are spelt right first ("tarsel tunel").
        correct = self.retriever.reader.correct
        history = [
            {**t, "content": correct(t["content"])} if t["role"] == "user" else t for t in turn.history[-6:]
        ]
        message = correct(turn.message)
        reading = self.reader.read(message)
        if not reading.group:  # a follow-up about the child of an earlier message is still about a child
            group = self.reader.group_of([t["content"] for t in history if t["role"] == "user"])
            reading = replace(reading, group=group)
        condensed = condense(message, history, self.topics, reading)
        if not condensed.topics and reading.is_story and self.symptoms is not None:
            # A story that names no condition: the one its symptoms are clearly closest to, if any.
            closest = self.symptoms.closest(f"{reading.context} {reading.ask}")
            if closest is not None and closest not in reading.ruled_out:
                condensed = replace(condensed, question=f"{reading.ask} ({closest})", topics=(closest,),
                                    inferred=True)
        return replace(turn, condensed=condensed)

    def input_rails(self, turn: Turn) -> Turn:
        if not turn.message.strip():
            return replace(turn, screening=Screening("smalltalk", "empty"))
        condensed = turn.condensed or Condensed(turn.message)
        # The message itself, spelling fixed, without what it rules out ("not plantar fasciitis").
        own_words = self.reader.without_ruled_out(self.retriever.reader.correct(turn.message),
                                                  self.scope.rules.conditions)
        continues = condensed.from_history and refers_back(turn.message)
        triage = self.triage.run(turn.message, turn.history)  # first, whatever the topic
        return replace(turn, screening=screen(own_words, condensed.question, self.rules, self.scope,
                                              condensed.reading, continues, triage))

    def retrieve(self, turn: Turn) -> Turn:
        if turn.screening is None or turn.screening.kind is not None or turn.condensed is None:
            return turn
        retrieval, screening = self.sections.find(turn.condensed, turn.screening, turn.message, self.pins)
        return replace(turn, retrieval=retrieval, screening=screening)

    def _unit_scores(self, turn: Turn) -> dict[tuple[str, str], float]:
        """How close each unit of the retrieved sections is to the ask (its vector, cached)."""
        units = self.index.units
        if units is None or turn.retrieval is None or turn.condensed is None:
            return {}
        ask = self.retriever.embed_query(self.retriever.reader.read(turn.condensed.ask).dense_text)
        positions = [self._positions[h.chunk.id] for h in turn.retrieval.hits]
        return {(self.index.chunks[ref.chunk].id, ref.unit.text): score
                for score, ref in units.closest(ask[None, :], positions)}

    def compose(self, turn: Turn) -> Turn:
        screening = turn.screening or Screening(None)
        if screening.kind in ESCALATIONS:
            signs = [s.label for s in screening.triage.signs] if screening.triage else []
            alert = Alert(screening.kind, self.rules.alert_messages[screening.kind], signs)
            return replace(turn, draft=Draft("", alert=alert))
        if screening.kind is not None or turn.retrieval is None or turn.condensed is None:
            return replace(turn, draft=Draft(self._fixed_text(screening)))
        request = ComposeRequest(
            question=turn.condensed.question, query=turn.retrieval.query, hits=turn.retrieval.hits,
            topics=turn.condensed.topics, dosing=screening.dosing, rest=turn.retrieval.rest,
            unit_scores=self._unit_scores(turn), described=turn.condensed.inferred,
        )
        draft = self.composer.compose(request)
        notices = self.gaps.notices(turn.condensed.reading, turn.condensed.topic, request.query.intents,
                                    draft.chunks, [c.quote for c in draft.citations], screening.dosing)
        draft = replace(draft, notices=[*notices, *draft.notices])
        if screening.dosing:
            draft = replace(draft, body=f"{draft.body}\n\n{self.rules.dosing_pointer}")
        return replace(turn, draft=draft)

    def output_rails(self, turn: Turn) -> Reply:
        draft = turn.draft or Draft("")
        kind = (turn.screening.kind if turn.screening else None) or "answer"
        topic_vectors = None
        if draft.chunks:
            topic_vectors = self._chunk_vectors[[self._positions[c.id] for c in draft.chunks]]
        shown = self.red_flags.for_reply([c.doc_id for c in draft.chunks], topic_vectors)
        return finalize(kind, draft.body, draft.citations, self._chunks, shown.flags, self.rules, shown.heading,
                        alert=draft.alert, notices=draft.notices, red_flags_source=shown.source)

    # --- replies that do not come from the article ----------------------------------------
    def _fixed_text(self, screening: Screening) -> str:
        replies, wording = self._replies, self.wording
        examples = "\n".join(f"- {q}" for q in wording.examples)
        try_asking = f"\n\n{replies['smalltalk']['try_asking']}\n{examples}" if examples else ""
        if screening.kind == "out_of_scope":
            reason = screening.reason if screening.reason in replies["out_of_scope"] else "general"
            named = ", ".join(screening.scope.named) if screening.scope else ""
            return wording.fill(replies["out_of_scope"][reason], named=named) + try_asking
        reason = screening.reason if screening.reason in replies["smalltalk"] else "greeting"
        text = wording.fill(replies["smalltalk"][reason])
        return text + try_asking if reason in ("greeting", "about_bot") else text


def _clean(message: str) -> str:
    """Drop control characters and normalise Unicode so look-alike letters compare equal."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFKC", message))


class SectionRetriever(BaseRetriever):
    """LangChain face of `HybridRetriever`: each hit becomes a `Document` with its section."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: HybridRetriever
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LangChainDocument]:
        result = self.retriever.retrieve(query, self.k)
        return [
            LangChainDocument(
                page_content=hit.chunk.text,
                id=hit.chunk.id,
                metadata={
                    "id": hit.chunk.id,
                    "section": hit.chunk.section,
                    "doc_id": hit.chunk.doc_id,
                    "score": hit.score,
                    "dense": hit.dense,
                    "keyword": hit.keyword,
                    "relevant": result.relevant,
                },
            )
            for hit in result.hits
        ]
