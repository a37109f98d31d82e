"""The question-answering pipeline every front end calls: retriever → answerer, on one index.

`QAPipeline.ask` and `QAPipeline.search` are the whole public surface, with `conversations` for
follow-ups. The pipeline holds the encoder (loaded once) and the live index; `reload_if_changed`
swaps in a newer index snapshot between requests, and each request works wholly on the snapshot
it started with. Answers carry document ids and offsets; links are the front end's business
(`qa.links`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from embeddings.encoder import Encoder, EncoderError, load_encoder
from qa.answering import Answerer
from qa.answering.reader import ReaderStage, default_reader
from qa.answering.updates import SearchSince
from qa.config import BUNDLED_CORPUS, TOP_K_MAX, TOP_K_MIN, Settings
from qa.conversation import ConversationService
from qa.daterange import DateRange
from qa.errors import BadInput, NoIndex, QuestionError, StoreError, unavailable_on
from qa.ingest.sources import load_documents
from qa.ingest.tagging import SpanTagger
from qa.retrieval import Hit, HybridRetriever
from qa.schema import Answer, SearchResponse, SearchResult
from qa.state import open_state
from qa.stores import open_store
from qa.stores.base import IndexChanged, IndexReader

RELOAD_CHECK_S = 1.0  # how often a long-running pipeline looks for a newer index snapshot
__all__ = ["MAX_QUESTION_CHARS", "SEARCH_K", "QAPipeline", "QuestionError", "check_question", "check_top_k"]

MAX_QUESTION_CHARS = 2000
SEARCH_K = 10  # passages a search lists unless told otherwise: more than the answerer reads (QA_TOP_K)
READ_ATTEMPTS = 3  # a request that saw a newer index publish mid-way is answered again, from the newer one
T = TypeVar("T")


def check_question(question: str) -> str:
    text = " ".join(question.split())
    if not text:
        raise QuestionError('the question is empty: ask something, e.g. "When did Iran host Shoigu?"')
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}")
    return text


def check_top_k(top_k: int) -> int:
    if not TOP_K_MIN <= top_k <= TOP_K_MAX:
        raise BadInput(f"top_k={top_k} is not allowed: use a whole number from {TOP_K_MIN} to {TOP_K_MAX}")
    return top_k


@dataclass
class _Loaded:
    index: IndexReader
    retriever: HybridRetriever
    answerer: Answerer


def later_search(retriever: HybridRetriever, query: str, k: int, dates: DateRange | None) -> SearchSince:
    """The question's retrieval limited to articles published from a given day (and within the
    asked range): how the answerer looks for newer reports of a developing story."""

    def search(day: date) -> list[Hit]:
        if dates is not None and dates.until is not None and day > dates.until:
            return []
        return retriever.run(query, k, dates=DateRange(max(day, dates.first) if dates else day, dates.until if dates else None))

    return search


class QAPipeline:
    def __init__(self, settings: Settings, encoder: Encoder | None = None) -> None:
        self.settings = settings
        self.store = open_store(settings)
        self._encoder = encoder
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self._last_reload_check = time.monotonic()
        self.state = open_state(settings.state_url)  # shared with other replicas when it is Redis
        self.conversations = ConversationService(settings.max_conversations, settings.conversation_idle_s, self.state)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            with unavailable_on(EncoderError):
                self._encoder = load_encoder(
                    self.settings.model, self.settings.backend, self.settings.cache_dir, self.settings.threads
                )
        return self._encoder

    def build_bundled_index(self, warn: Callable[[str], None], progress: Callable[[int, int], None] | None = None) -> None:
        with self.store.lock(wait_s=600):
            if not self.store.exists():
                self.store.build(
                    load_documents([BUNDLED_CORPUS], warn),
                    self.encoder,
                    self.settings.max_passage_chars,
                    progress,
                    ann_threshold=self.settings.ann_threshold,
                    tagger=SpanTagger(self.settings.ner_model),
                )

    def require_index(self) -> None:
        """Raise NoIndex naming `qa index` unless a published index exists (servers never build one)."""
        if not self.store.exists():
            raise NoIndex(
                f"no index in {self.store.location}: build one with `qa index PATH` (or point --index-dir or --store-url at one)"
            )

    def store_index(self) -> IndexReader:
        """The live index without loading the encoder (for listing documents)."""
        return self.store.open(self.settings.model, self.settings.backend)

    def _open(self) -> _Loaded:
        index = self.store_index()
        return _Loaded(
            index,
            HybridRetriever(index, self.encoder),
            Answerer(
                index,
                reader=ReaderStage(default_reader(self.settings.threads)) if self.settings.reader else None,
                later_searches=self.settings.newer_reports,
            ),
        )

    @property
    def loaded(self) -> _Loaded:
        """The live index and its components; switches to a newer snapshot between requests."""
        current = self._loaded
        if current is not None and time.monotonic() - self._last_reload_check > RELOAD_CHECK_S:
            self._last_reload_check = time.monotonic()
            try:
                self.reload_if_changed()
            except StoreError as exc:  # a broken new snapshot: keep answering from the old one
                logging.getLogger("qa").warning("not switching index: %s", exc)
            current = self._loaded
        if current is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._open()
                current = self._loaded
        return current

    def warm_up(self) -> None:
        """Load the encoder and the index now rather than on the first question."""
        _ = self.loaded

    @property
    def index(self) -> IndexReader:
        return self.loaded.index

    def reload_if_changed(self) -> bool:
        """Switch to a newer snapshot if one was published. Returns True when it switched."""
        current = self._loaded
        if current is None or self.store.current_version() == current.index.version:
            return False
        with self._lock:
            if self._loaded is current:
                self._loaded = self._open()
        return True

    def _on_one_index(self, work: Callable[[_Loaded], T]) -> T:
        """Run `work` on the live index; if a newer one was published while it read (a database
        backend notices), switch and run it again, so one request reads one version."""
        for _ in range(READ_ATTEMPTS - 1):
            loaded = self.loaded
            try:
                return work(loaded)
            except IndexChanged:
                with self._lock:
                    if self._loaded is loaded:
                        self._loaded = self._open()
        return work(self.loaded)

    def ask(
        self, question: str, top_k: int | None = None, conversation_id: str | None = None, dates: DateRange | None = None
    ) -> Answer:
        """Answer from exactly the `top_k` best passages; inside a conversation when an id is given.

        With `dates`, the passages are the best of the documents published in that range; the
        range applies to this question only, never to a conversation's later turns.
        """
        question = check_question(question)
        k = check_top_k(top_k if top_k is not None else self.settings.top_k)
        started = time.perf_counter()
        if conversation_id is None:
            answer = self._on_one_index(
                lambda loaded: loaded.answerer.run(
                    question,
                    loaded.retriever.run(question, k, dates=dates),
                    focus=question,
                    search_since=later_search(loaded.retriever, question, k, dates),
                )
            )
        else:
            # Loaded, locked (across replicas on Redis), changed and saved back as one step;
            # ConversationNotFound when it was never started or was forgotten.
            with self.conversations.hold(conversation_id) as conversation:
                query = conversation.contextualize(question)  # retrieval lands on the story talked about
                resolved = conversation.resolve(question)  # the answerer scores the question, references resolved
                avoid = conversation.given_answers()
                answer = self._on_one_index(
                    lambda loaded: loaded.answerer.run(
                        resolved,
                        loaded.retriever.run(query, k, dates=dates),
                        focus=question,
                        avoid=avoid,
                        read=resolved == question,
                        search_since=later_search(loaded.retriever, query, k, dates),
                    )
                )
                conversation.add(
                    question, query, answer.answer, short_answer=answer.short_answer, kind=answer.kind, evidence=answer.evidence()
                )
        if dates is not None and not answer.answered and answer.message:
            answer.message = f"{answer.message} Only articles published {dates.describe()} were searched."
        answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def search(self, query: str, k: int = SEARCH_K, dates: DateRange | None = None) -> SearchResponse:
        """The `k` best passages for a query (published within `dates` when given); urls are the
        documents' own (see `qa.links`)."""
        query = check_question(query)
        k = check_top_k(k)
        return SearchResponse(query=query, results=self._on_one_index(lambda loaded: self._results(loaded, query, k, dates)))

    @staticmethod
    def _results(loaded: _Loaded, query: str, k: int, dates: DateRange | None = None) -> list[SearchResult]:
        results = []
        for hit in loaded.retriever.run(query, k, dates=dates):
            passage = hit.passage
            doc = loaded.index.documents[passage.doc_id]
            results.append(
                SearchResult(
                    doc_id=doc.doc_id,
                    title=doc.title,
                    url=doc.url,
                    passage=passage.text,
                    start=passage.start,
                    end=passage.end,
                    score=round(hit.score, 4),
                )
            )
        return results
