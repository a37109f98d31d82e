"""Hybrid retrieval: dense (FAISS) and BM25 (bm25s) candidates, fused by normalised scores.

Each side proposes its best candidates; every candidate is then scored by both (the dense
score is an exact dot product, BM25 comes from the sparse score vector), each side is
min-max normalised over the candidates and the two are mixed. Raw cosine and BM25 values stay
on the hit, because the answerer judges absolute relevance from them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

import numpy as np

from embeddings.encoder import Encoder
from qa.chunking import Passage
from qa.index import Index
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
    """Recent query vectors: repeated and follow-up questions skip the encoder."""

    def __init__(self, encoder: Encoder, size: int = 2048) -> None:
        self.encoder = encoder
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __call__(self, query: str) -> np.ndarray:
        with self._lock:
            vector = self._items.get(query)
            if vector is not None:
                self._items.move_to_end(query)
                return vector
        vector = self.encoder.encode([query])[0]
        vector.setflags(write=False)
        with self._lock:
            self._items[query] = vector
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return vector


class HybridRetriever:
    def __init__(self, index: Index, encoder: Encoder, dense_weight: float = 0.5, candidates: int = 50) -> None:
        self.index = index
        self.embed = QueryEmbeddingCache(encoder)
        self.dense_weight = dense_weight
        self.candidates = candidates

    def run(self, query: str, k: int, query_vector: np.ndarray | None = None) -> list[Hit]:
        n_passages = len(self.index.passages)
        if n_passages == 0 or k <= 0:
            return []
        vector = self.embed(query) if query_vector is None else query_vector
        pool = max(self.candidates, k * 4)
        _, dense_ids = self.index.vectors.search(vector, pool)
        query_terms = [t for t in terms(query) if t in self.index.bm25.vocab_dict]
        bm25_all = self.index.bm25.get_scores(query_terms) if query_terms else np.zeros(n_passages, np.float32)
        if query_terms:
            top = np.argpartition(-bm25_all, min(pool, n_passages - 1))[:pool]
            bm25_ids = top[bm25_all[top] > 0]
        else:
            bm25_ids = np.zeros(0, np.int64)
        ids = np.unique(np.concatenate([dense_ids[dense_ids >= 0], bm25_ids]).astype(np.int64))
        dense = self.index.vectors.vectors[ids] @ vector
        sparse = bm25_all[ids].astype(np.float32)
        fused = self.dense_weight * _minmax(dense) + (1 - self.dense_weight) * (
            _minmax(sparse) if sparse.max() > 0 else np.zeros_like(sparse)
        )
        order = np.argsort(-fused, kind="stable")[:k]
        return [Hit(self.index.passages[ids[i]], float(fused[i]), float(dense[i]), float(sparse[i])) for i in order]
