"""Stage 5: retrieval. Ranks the sections of the index for a question.

Hybrid search: the cosine similarity of the question to each chunk (FAISS, dense) and a
BM25 keyword score (bm25s) over the same text the chunks are embedded with, heading path
included. The two are fused as a weighted sum after scaling BM25 to [0, 1], plus a bonus when
the kind of answer asked for (treatment, symptoms, ...) matches the chunk's heading path.
The question is first read by `QueryReader` (spelling, patients' words, abbreviations).
The result also says whether anything in the article is relevant at all, one of the signals
the safety layer uses to decline off-topic questions.

`chatbot.bot.SectionRetriever` wraps this as a LangChain `BaseRetriever`.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import bm25s
import numpy as np
import Stemmer

from chatbot.answer.query import WEAK_INTENTS, Query, QueryReader
from chatbot.config import Settings
from chatbot.knowledge.chunks import Chunk
from chatbot.search.embeddings import Embedder, load_embedder
from chatbot.search.index import SearchIndex
from chatbot.search.indexing import open_index

_stemmer = Stemmer.Stemmer("english")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build
_TOKEN = re.compile(r"[a-z0-9]+")
# Function words, and words a patient uses in any question ("pain", "hurts"): they say nothing
# about which section fits. Words most sections of the corpus use are left out of the
# relevance check too (HybridRetriever._common).
_STOPWORDS = frozenset("""
a about again all also am an and any are as at be been before being but by can could did do does doing
done dont doesnt for from get gets getting got had has have having he her him his how i id if ill im in
into is isnt it its ive just know like me might much my myself no not now of ok okay on or our please
really she should so some such tell than that the their them then there these they thing things this
those to too very want was we were what whats when where which who why will with wont would you your
pain pains hurt hurts hurting inside inner
""".split())


# Where the stemmer splits words a patient and the article use for the same thing.
_SAME_STEM = {"treatment": "treat", "inflamm": "inflam", "inflammatori": "inflam", "tendinitis": "tendonitis"}


def keywords(text: str) -> list[str]:
    """Lowercased, stemmed content words. Condition names (-itis, -osis) are not stemmed:
    "tendonitis", "tendonosis" and "tendon" must stay apart."""
    text = text.lower().replace("’", "'").replace("'", "")
    words = [t for t in _TOKEN.findall(text) if t not in _STOPWORDS]
    stems = [w if w.endswith(("itis", "osis")) else _stemmer.stemWord(w) for w in words]
    return [_SAME_STEM.get(stem, stem) for stem in stems]


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused, 0..1
    dense: float  # cosine similarity
    keyword: float  # BM25 scaled to 0..1 across the chunks


@dataclass(frozen=True)
class Retrieval:
    query: Query
    hits: list[Hit]
    relevant: bool  # False: nothing in the articles is about this question
    best_dense: float = 0.0
    matched_keywords: tuple[str, ...] = field(default_factory=tuple)
    rest: list[Hit] = field(default_factory=list)  # the next sections ranked below the top k, in order


@dataclass(frozen=True)
class RetrievalSettings:
    dense_weight: float = 0.5
    keyword_weight: float = 0.3
    intent_weight: float = 0.25
    # Below both of these, the question is about something the articles do not cover.
    min_dense: float = 0.35
    min_keyword_matches: int = 2
    # How many sections below the top k come back too (where a definition may be): a fixed
    # number, so a reply costs the same with ten articles or a thousand.
    rest: int = 60


class HybridRetriever:
    def __init__(
        self, index: SearchIndex, embedder: Embedder, settings: RetrievalSettings | None = None, cache_size: int = 2048
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        texts = index.search_texts()
        # The chunks' unit vectors, read out of FAISS once (the output rails use them too).
        self.vectors = index.vectors.reconstruct_n(0, index.vectors.ntotal)
        self._positions = {c.id: i for i, c in enumerate(index.chunks)}
        self._bm25 = bm25s.BM25()
        self._bm25.index([keywords(t) or ["_"] for t in texts], show_progress=False)
        tokens = [set(keywords(t)) for t in texts]
        self._vocabulary = set().union(*tokens)
        n = len(texts)
        # Lucene's IDF, as bm25s scores with it.
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in Counter(
            t for doc in tokens for t in doc).items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)
        # Words in most sections ("ankle" in an ankle article) do not make a question about it.
        df = Counter(t for doc in tokens for t in doc)
        self._common = {t for t, count in df.items() if n >= 10 and count > 0.4 * n}
        words = {w for t in texts for w in re.findall(r"[a-z]+", t.lower().replace("’", "'"))}
        known_words = getattr(embedder, "known_words", None)
        lay_terms = [(t["when"], t["add"]) for t in index.manifest.get("knowledge", {}).get("lay_terms", [])]
        self.reader = QueryReader(index.glossary, words, dictionary=known_words() if known_words else (),
                                  lay_terms=lay_terms)
        self._intent_masks = {i.name: self._intent_mask(i.name) for i in self.reader.rules.intents}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def retrieve(self, query: str | Query, k: int = 5, exclude: frozenset[str] = frozenset()) -> Retrieval:
        """The top `k` sections for a question; `exclude`: chunk ids never to return (the
        sections of a condition the message rules out)."""
        if isinstance(query, str):
            query = self.reader.read(query)
        terms = keywords(query.search_text)
        own_terms = keywords(query.dense_text or query.search_text)  # without the added synonyms
        dense = self._dense_scores(query.dense_text or query.search_text)
        keyword = self._keyword_scores(terms, own_terms)
        s = self.settings
        fused = s.dense_weight * dense + s.keyword_weight * keyword + s.intent_weight * self._intent_scores(query)
        fused /= s.dense_weight + s.keyword_weight + s.intent_weight
        if exclude:
            fused[[self._positions[i] for i in exclude if i in self._positions]] = -np.inf
        wanted = min(k + s.rest, len(fused))
        # The best `wanted` only, then in order: a full sort of a large library is the slow part.
        best = np.argpartition(-fused, wanted - 1)[:wanted] if wanted < len(fused) else np.arange(len(fused))
        order = best[np.lexsort((best, -fused[best]))]
        ranked = [Hit(self.index.chunks[i], float(fused[i]), float(dense[i]), float(keyword[i])) for i in order]
        matched = tuple(sorted(set(terms) & self._vocabulary))
        best_dense = float(dense.max()) if len(dense) else 0.0
        # Words that happen to be in the article ("last night") do not make a question about it:
        # at least half of the question's own words must be.
        own = set(own_terms) - self._common
        own_matched = own & self._vocabulary
        relevant = best_dense >= s.min_dense or (
            len(own_matched) >= s.min_keyword_matches and 2 * len(own_matched) >= len(own))
        return Retrieval(query, ranked[:k], relevant, best_dense, matched, ranked[k:])

    def _intent_scores(self, query: Query) -> np.ndarray:
        """1 where a chunk answers the kind of question asked (0.5 for weak hints), else 0."""
        scores = np.zeros(len(self.index.chunks), np.float32)
        for name in query.intents:
            weight = 0.5 if name in WEAK_INTENTS else 1.0
            np.maximum(scores, weight * self._intent_masks[name], out=scores)
        return scores

    def _intent_mask(self, name: str) -> np.ndarray:
        """1 for the sections whose role answers this kind of question (or whose text says so)."""
        intent = self.reader.rules.intent(name)
        return np.array([
            chunk.role in intent.roles
            or (intent.contains is not None and chunk.role not in intent.contains_not_in
                and bool(intent.contains.search(chunk.search_text())))
            for chunk in self.index.chunks
        ], np.float32)

    def _dense_scores(self, text: str) -> np.ndarray:
        """Cosine similarity to every chunk (the fusion needs all of them): the FAISS index's
        vectors as one matrix, times the question's unit vector."""
        return self.vectors @ self.embed_query(text)

    def _keyword_scores(self, terms: list[str], asked: list[str]) -> np.ndarray:
        """BM25 scaled by what a chunk holding every word `asked` once would score (the sum of
        their IDFs), so one common shared word ("quick") is not a perfect match. Words the
        articles never use count at full IDF: a question mostly about them matches weakly.
        `terms` may add the articles' words for what was meant; matching those only helps."""
        known = [t for t in terms if t in self._vocabulary and t not in self._common]
        if not known:
            return np.zeros(len(self.index.chunks), np.float32)
        scores = np.asarray(self._bm25.get_scores(known), np.float32)
        ideal = sum(self._idf.get(t, self._max_idf) for t in set(asked))
        return np.minimum(scores / max(ideal, float(scores.max()), 1e-9), 1.0)

    def clear_cache(self) -> None:
        """Forget the question vectors kept so far, here and in a caching embedder (benchmarks
        time the embedding too)."""
        with self._cache_lock:
            self._cache.clear()
        clear = getattr(self.embedder, "clear", None)
        if callable(clear):
            clear()

    def embed_query(self, text: str) -> np.ndarray:
        # Patients ask the same few questions; a small cache skips re-embedding them.
        with self._cache_lock:
            if text in self._cache:
                self._cache.move_to_end(text)
                return self._cache[text]
        vector = self.embedder.embed([text])[0]
        with self._cache_lock:
            self._cache[text] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector


def open_retriever(settings: Settings, rebuild: bool = False) -> HybridRetriever:
    """The retriever over the index named by `settings` (no LangChain, no torch: starts fast)."""
    embedder = load_embedder(settings.model_path, settings.embedder)
    index = open_index(settings.index_dir, settings.corpus_dir, embedder, settings.max_chunk_tokens, rebuild=rebuild)
    return HybridRetriever(index, embedder)
