"""The question-answering pipeline every front end calls: retriever → answerer, on one index.

`QAPipeline.ask` and `QAPipeline.search` are the whole public surface. The pipeline holds the
encoder (loaded once) and the live index; `reload_if_changed` swaps in a newer index snapshot
between requests, and each request works wholly on the snapshot it started with.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from embeddings.encoder import Encoder, load_encoder
from embeddings.store import IndexStore, IndexStoreError
from qa.answering import Answerer
from qa.config import BUNDLED_CORPUS, Settings
from qa.conversation import Conversation
from qa.corpus import load_documents
from qa.index import Index, build_index, load_index
from qa.retrieval import HybridRetriever
from qa.schema import Answer, SearchResponse, SearchResult

RELOAD_CHECK_S = 1.0  # how often a long-running pipeline looks for a newer index snapshot


class QuestionError(ValueError):
    """The question itself is unusable (empty, too long)."""


MAX_QUESTION_CHARS = 2000


def check_question(question: str) -> str:
    text = " ".join(question.split())
    if not text:
        raise QuestionError("the question is empty: ask something, e.g. \"When did Iran host Shoigu?\"")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}")
    return text


@dataclass
class _Loaded:
    index: Index
    retriever: HybridRetriever
    answerer: Answerer


class QAPipeline:
    def __init__(self, settings: Settings, encoder: Encoder | None = None) -> None:
        self.settings = settings
        self.store = IndexStore(settings.index_dir)
        self._encoder = encoder
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self._last_reload_check = time.monotonic()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.settings.model, self.settings.backend, self.settings.cache_dir, self.settings.threads)
        return self._encoder

    def build_bundled_index(self, warn: Callable[[str], None], progress: Callable[[int, int], None] | None = None) -> None:
        with self.store.lock(wait_s=600):
            if not self.store.exists():
                build_index(load_documents([BUNDLED_CORPUS], warn), self.encoder, self.store, self.settings.max_passage_chars,
                            progress, ann_threshold=self.settings.ann_threshold)

    def store_index(self) -> Index:
        """The live index without loading the encoder (for listing documents)."""
        return load_index(self.store, self.settings.model, self.settings.backend)

    def _open(self) -> _Loaded:
        index = self.store_index()
        return _Loaded(index, HybridRetriever(index, self.encoder), Answerer(index, self.settings.public_url))

    @property
    def loaded(self) -> _Loaded:
        """The live index and its components; switches to a newer snapshot between requests."""
        current = self._loaded
        if current is not None and time.monotonic() - self._last_reload_check > RELOAD_CHECK_S:
            self._last_reload_check = time.monotonic()
            try:
                self.reload_if_changed()
            except IndexStoreError as exc:  # a broken new snapshot: keep answering from the old one
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
    def index(self) -> Index:
        return self.loaded.index

    def reload_if_changed(self) -> bool:
        """Switch to a newer snapshot if one was published. Returns True when it switched."""
        current = self._loaded
        if current is None or self.store.current_name() == current.index.version:
            return False
        with self._lock:
            if self._loaded is current:
                self._loaded = self._open()
        return True

    def ask(self, question: str, conversation: Conversation | None = None, top_k: int | None = None) -> Answer:
        question = check_question(question)
        loaded = self.loaded  # one snapshot for the whole request
        started = time.perf_counter()
        query = conversation.contextualize(question) if conversation else question
        resolved = conversation.resolve(question) if conversation else question
        k = top_k or self.settings.top_k
        hits = loaded.retriever.run(query, k)  # the answerer reads exactly these top_k passages
        answer = loaded.answerer.run(resolved, hits, focus=question, avoid=conversation.given_answers() if conversation else None)
        if conversation is not None:
            conversation.add(question, query, answer.answer, short_answer=answer.short_answer, kind=answer.kind,
                             evidence=answer.evidence())
        answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def search(self, query: str, k: int = 10) -> SearchResponse:
        query = check_question(query)
        loaded = self.loaded
        results = []
        for hit in loaded.retriever.run(query, k):
            passage = hit.passage
            doc = loaded.index.documents[passage.doc_id]
            results.append(
                SearchResult(
                    doc_id=doc.doc_id, title=doc.title, url=loaded.answerer.link(doc, passage.start, passage.end),
                    passage=passage.text, start=passage.start, end=passage.end, score=round(hit.score, 4),
                )
            )
        return SearchResponse(query=query, results=results)
