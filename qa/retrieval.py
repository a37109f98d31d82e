"""Hybrid retrieval: dense and BM25 candidates from the index backend, fused by normalised scores.

Each side proposes its best candidates; every candidate is then scored by both (the backend
returns the raw cosine and the raw BM25 score of each, `IndexReader.candidates`), each side is
min-max normalised over the candidates and the two are mixed. Raw cosine and BM25 values stay
on the hit, because the answerer judges absolute relevance from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Lock

import numpy as np
from cachetools import LRUCache, cachedmethod

from embeddings.encoder import Encoder, EncoderError
from qa.daterange import DateRange
from qa.errors import unavailable_on
from qa.ingest.chunking import Passage
from qa.stores.base import IndexReader
from qa.text import terms


@dataclass(slots=True)
class Hit:
    passage: Passage
    score: float  # fused, 0..1 within one query
    dense: float  # cosine similarity to the query
    bm25: float


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.ones_like(values)


class QueryEmbeddingCache:
    """Recent query vectors: repeated and follow-up questions skip the encoder.

    The lock guards the LRU only, never the encoder, so threads answering different questions
    encode at the same time.
    """

    def __init__(self, encoder: Encoder, size: int = 2048) -> None:
        self.encoder = encoder
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=size)
        self._lock = Lock()

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def __call__(self, query: str) -> np.ndarray:
        return self.vector(query)

    @cachedmethod(lambda self: self._vectors, lock=lambda self: self._lock)
    def vector(self, query: str) -> np.ndarray:
        """The encoder's vector for `query`, read-only: every caller asking the same query shares it."""
        with unavailable_on(EncoderError):
            vector = self.encoder.encode([query])[0]
        vector.setflags(write=False)
        return vector


class HybridRetriever:
    def __init__(self, index: IndexReader, encoder: Encoder, dense_weight: float = 0.5, candidates: int = 50) -> None:
        self.index = index
        self.embed = QueryEmbeddingCache(encoder)
        self.dense_weight = dense_weight
        self.candidates = candidates

    def run(self, query: str, k: int, query_vector: np.ndarray | None = None, dates: DateRange | None = None) -> list[Hit]:
        """The `k` best passages for `query`; with `dates`, the `k` best published in that range."""
        if self.index.passage_count == 0 or k <= 0:
            return []
        vector = self.embed(query) if query_vector is None else query_vector
        found = self.index.candidates(terms(query), vector, max(self.candidates, k * 4), dates)
        if not found.passages:
            return []
        dense, sparse = found.dense, found.bm25
        fused = self.dense_weight * _minmax(dense) + (1 - self.dense_weight) * (
            _minmax(sparse) if sparse.max() > 0 else np.zeros_like(sparse)
        )
        order = np.argsort(-fused, kind="stable")[:k]
        return [Hit(found.passages[i], float(fused[i]), float(dense[i]), float(sparse[i])) for i in order]
