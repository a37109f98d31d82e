"""BM25 for the PostgreSQL backend, computed exactly as bm25s computes it for the local one.

PostgreSQL proposes passages from each query term's best postings (`qa_postings`); their scores come from here,
from stored term counts and lengths and the global term statistics, with bm25s's formula
(method "lucene": idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf / (tf + k1 (1 - b + b dl / avgdl)),
k1 1.5, b 0.75) and its arithmetic: per-term scores rounded to float32, summed in float32 in
query-term order, a repeated query term counted each time. Same numbers, same fusion, same answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from qa.stores.base import BM25_B, BM25_K1

MAX_POSITION = 16383  # PostgreSQL's largest tsvector position; passages (<= 5000 characters) stay far below


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: Sequence[str]) -> str:
    """The terms of a text as a tsvector literal: each lexeme with the positions it occurs at.

    The lexemes are `qa.text.terms` as they are (stemmed, stop words gone); PostgreSQL does not
    re-parse them, so BM25 and the answerer see one vocabulary on both backends.
    """
    positions: dict[str, list[int]] = {}
    for i, token in enumerate(tokens, start=1):
        positions.setdefault(token, []).append(min(i, MAX_POSITION))
    return " ".join(f"{_quote(t)}:{','.join(map(str, sorted(set(p))))}" for t, p in positions.items())


def idf(df: int, n: int) -> np.float32:
    return np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))


def scores(
    query_terms: Sequence[str],
    df: Mapping[str, int],
    n_passages: int,
    total_terms: int,
    tf: Sequence[Mapping[str, int]],
    lengths: Sequence[int],
) -> np.ndarray:
    """BM25 of each passage (its term counts `tf[i]`, length `lengths[i]`) for the query terms."""
    out = np.zeros(len(tf), dtype=np.float32)
    if not len(tf) or n_passages == 0:
        return out
    avgdl = np.float64(total_terms) / n_passages  # as bm25s: mean of the lengths, float64
    dl = np.asarray(lengths, dtype=np.int64)
    for term in query_terms:  # order and repeats matter: float32 sums, as bm25s adds them
        if df.get(term, 0) <= 0:
            continue
        counts = np.array([row.get(term, 0) for row in tf], dtype=np.float32)
        has = counts > 0
        if not has.any():
            continue
        tfc = counts[has] / (BM25_K1 * ((1 - BM25_B) + BM25_B * dl[has] / avgdl) + counts[has])
        out[has] += (idf(df[term], n_passages) * tfc).astype(np.float32)
    return out
