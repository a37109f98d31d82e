"""BM25 for the PostgreSQL backend, computed exactly as bm25s computes it for the local one.

PostgreSQL proposes passages from each query term's best postings (`qa_postings`); their scores come from here,
from stored term counts and lengths and the global term statistics, with bm25s's formula
(method "lucene": `qa.stores.base.bm25_idf` times `tf_saturation`, k1 and b from `qa.stores.base`)
and its arithmetic: per-term scores rounded to float32, summed in float32 in query-term order, a
repeated query term counted each time. Same numbers, same fusion, same answers.

The formula also exists in SQL (`IDF_SQL`, `TF_SQL`), generated here from the same constants:
PostgreSQL orders each term's postings by their impact and ranks candidate passages before any
row reaches Python, and it cannot call Python to do so. The SQL only chooses which passages are
read; every score a reader returns comes from `scores`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qa.stores.base import BM25_B, BM25_K1, bm25_idf

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


def tf_saturation(tf: np.ndarray, dl: np.ndarray, avgdl: np.float64) -> np.ndarray:
    """BM25's term-frequency part: tf / (tf + k1 (1 - b + b dl / avgdl)), in bm25s's operation order."""
    return tf / (BM25_K1 * ((1 - BM25_B) + BM25_B * dl / avgdl) + tf)


# The same two parts as SQL expressions over the columns named in the braces (see the module docstring).
IDF_SQL = "ln(1 + ({n} - {df} + 0.5)::float8 / ({df} + 0.5))"
TF_SQL = f"({{tf}})::float8 / (({{tf}}) + {BM25_K1} * ({1 - BM25_B} + {BM25_B} * ({{dl}}) / ({{avgdl}})))"


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
        weight = np.float32(bm25_idf(df[term], n_passages))
        out[has] += (weight * tf_saturation(counts[has], dl[has], avgdl)).astype(np.float32)
    return out
