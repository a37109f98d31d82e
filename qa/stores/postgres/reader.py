"""Reading one published version of the index from PostgreSQL.

`PgIndex` is what the retriever and the answerer read (`IndexReader`): documents and passage
frequencies are lazy mappings with LRU caches, filled by the queries a question needs. Every
query also reads `qa_state.version`, in the same statement or the same REPEATABLE READ
transaction, and raises `IndexChanged` if a newer run was published since this reader opened:
cached values then belong to another version, and the pipeline switches and answers again. So a
question is answered wholly from one version, as with snapshot directories.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import fields
from typing import Any

import numpy as np
from cachetools import LRUCache
from psycopg.rows import DictRow, class_row
from psycopg_pool import ConnectionPool

from qa.daterange import DateRange
from qa.ingest.chunking import Passage
from qa.ingest.sources import Document
from qa.stores.base import Candidates, IndexChanged
from qa.stores.postgres import bm25
from qa.stores.postgres.connect import Connection, db_errors

DOC_FIELDS = [f.name for f in fields(Document)]  # qa_documents has a column of each name
DOC_COLUMNS = ", ".join(DOC_FIELDS)
MAX_EF_SEARCH = 1000
TERM_CAP = 1000  # postings read per query term, best impact first


def as_array(value: Any) -> np.ndarray:
    """A pgvector value as float32 numpy (the driver hands back `pgvector.Vector`)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def _document(row: DictRow) -> Document:
    """The document in a row that holds other columns too (the version)."""
    return Document(**{name: row[name] for name in DOC_FIELDS})


class _Documents(Mapping[str, Document]):
    """doc_id → Document, fetched on first use and cached for this version."""

    def __init__(self, reader: PgIndex, count: int) -> None:
        self._reader = reader
        self._count = count
        self._cache: LRUCache[str, Document] = LRUCache(maxsize=4096)
        self._lock = threading.Lock()

    def _remember(self, docs: list[Document]) -> None:
        with self._lock:
            for doc in docs:
                self._cache[doc.doc_id] = doc

    def cached(self, doc_id: str) -> Document | None:
        with self._lock:
            return self._cache.get(doc_id)

    def __getitem__(self, doc_id: str) -> Document:
        doc = self.cached(doc_id)
        if doc is not None:
            return doc
        rows = self._reader.query(
            f"SELECT s.version, {', '.join('d.' + c for c in DOC_COLUMNS.split(', '))} "
            "FROM qa_state s LEFT JOIN qa_documents d ON d.doc_id = %s",
            (doc_id,),
        )
        if not rows or rows[0]["doc_id"] is None:
            raise KeyError(doc_id)
        doc = _document(rows[0])
        self._remember([doc])
        return doc

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        rows = self._reader.query("SELECT s.version, d.doc_id FROM qa_state s JOIN qa_documents d ON true ORDER BY d.seq")
        return iter([row["doc_id"] for row in rows])

    def values(self) -> list[Document]:  # type: ignore[override]  # one query, not one per document
        rows = self._reader.query(f"SELECT s.version, {DOC_COLUMNS} FROM qa_state s JOIN qa_documents d ON true ORDER BY d.seq")
        return [_document(row) for row in rows]


class _PassageFreq(Mapping[str, int]):
    """term → passages containing it; absent terms are cached too (the answerer asks for 0s)."""

    def __init__(self, reader: PgIndex) -> None:
        self._reader = reader
        self._cache: LRUCache[str, int] = LRUCache(maxsize=200_000)
        self._lock = threading.Lock()

    def remember(self, found: Mapping[str, int], asked: list[str]) -> None:
        with self._lock:
            for term in asked:
                self._cache[term] = found.get(term, 0)

    def __getitem__(self, term: str) -> int:
        with self._lock:
            df = self._cache.get(term)
        if df is None:
            rows = self._reader.query("SELECT s.version, t.df FROM qa_state s LEFT JOIN qa_terms t ON t.term = %s", (term,))
            df = int(rows[0]["df"] or 0) if rows else 0
            self.remember({term: df}, [term])
        if df <= 0:
            raise KeyError(term)
        return df

    def __len__(self) -> int:
        rows = self._reader.query("SELECT s.version, count(*) AS terms FROM qa_state s, qa_terms GROUP BY s.version")
        return int(rows[0]["terms"]) if rows else 0

    def __iter__(self) -> Iterator[str]:
        rows = self._reader.query("SELECT s.version, t.term FROM qa_state s JOIN qa_terms t ON true")
        return iter([row["term"] for row in rows])


class PgIndex:
    """One version of the index in PostgreSQL (see the module docstring)."""

    def __init__(
        self,
        pool: ConnectionPool[Connection],
        url: str,
        setting: str,
        state: dict[str, Any],
        exact_below: int,
        owner: object = None,
        iterative_scan: bool = False,
    ) -> None:
        self._owner = owner  # the store: its pool lives as long as a reader does
        self._iterative_scan = iterative_scan  # pgvector >= 0.8: HNSW scans on until a filtered query has its rows
        self._pool = pool
        self._url = url
        self._setting = setting
        self._state = state
        self.exact_below = exact_below
        self.term_cap = TERM_CAP
        self._documents = _Documents(self, state["documents"])
        self._passage_freq = _PassageFreq(self)

    # ---- IndexReader -------------------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self._state["version"])

    @property
    def manifest(self) -> dict[str, Any]:
        built = self._state.get("built_at")
        return {
            **{k: self._state.get(k) for k in ("model", "backend", "dim", "ner_model", "max_passage_chars")},
            "documents": self._state["documents"],
            "passages": self._state["passages"],
            "version": self.version,
            "built_at": built.isoformat(timespec="seconds") if built is not None else None,
            "store": "postgresql",
        }

    @property
    def documents(self) -> _Documents:
        return self._documents

    @property
    def passage_freq(self) -> _PassageFreq:
        return self._passage_freq

    @property
    def passage_count(self) -> int:
        return int(self._state["passages"])

    def passage_counts(self) -> dict[str, int]:
        rows = self.query(
            "SELECT s.version, p.doc_id, count(*) AS passages FROM qa_state s JOIN qa_passages p ON true GROUP BY 1, 2"
        )
        return {row["doc_id"]: int(row["passages"]) for row in rows}

    # ---- queries -----------------------------------------------------------------------------
    def _check(self, version: Any) -> None:
        if version != self.version:
            raise IndexChanged()

    def query(self, sql: str, params: tuple = ()) -> list[DictRow]:
        """One statement with a `version` column (`qa_state.version`), checked against this reader's."""
        with db_errors(self._url, self._setting), self._pool.connection() as conn:
            rows = conn.execute(sql.encode(), params).fetchall()
        if rows:
            self._check(rows[0]["version"])
        else:  # nothing joined: still make sure the version is ours
            with db_errors(self._url, self._setting), self._pool.connection() as conn:
                state = conn.execute("SELECT version FROM qa_state").fetchone()
            self._check(state["version"] if state else None)
        return rows

    def candidates(self, query_terms: list[str], vector: np.ndarray, pool: int, dates: DateRange | None = None) -> Candidates:
        """Dense and BM25 candidates, scored by both, from one consistent snapshot in two statements.

        Dense: the `pool` nearest by cosine, exact below `exact_below` passages (as the local
        index's flat search), HNSW above. BM25: each query term's best `term_cap` postings by
        impact (its BM25 weight without idf), ranked in float8 by BM25 over what was read, twice
        `pool` kept; they are re-scored here exactly as bm25s does and the best `pool` kept, so the
        cut falls where the local index puts it. A term in at most `term_cap` passages is read
        whole, so on such indexes the candidates are those of an exhaustive scan; above, a
        passage outside every term's best `term_cap` is not proposed (its scores stay exact).

        With `dates`, both sides read only passages whose `published_day` is in range (BM25 from
        the postings' own copy of the day, in the index). The dense side is exact below
        `exact_below`; above, HNSW (with pgvector's iterative scan where the extension has it,
        0.8 on) and, when that finds fewer than `pool` passages in range (a selective filter:
        HNSW's candidate list ran out), exact over the passages in range (btree on the day).
        """
        vector = np.asarray(vector, dtype=np.float32)
        state = self._state
        terms = list(dict.fromkeys(query_terms))
        exact = state["passages"] < self.exact_below
        counts = [query_terms.count(t) for t in terms]
        params = {
            "vector": vector,
            "pool": pool,
            "terms": terms,
            "counts": counts,
            "cap": self.term_cap,
            "limit": 2 * pool,
            "ef": str(min(MAX_EF_SEARCH, max(40, 2 * pool))),
            "since": dates.first if dates is not None else None,
            "until": dates.last if dates is not None else None,
        }
        with db_errors(self._url, self._setting), self._pool.connection() as conn, conn.transaction():
            head = conn.execute(HEAD_SQL, params).fetchall()  # version, ef_search for this transaction, df
            self._check(head[0]["version"] if head else None)
            df = {r["term"]: int(r["df"]) for r in head if r["term"] is not None}
            self._passage_freq.remember(df, terms)
            if dates is None:
                rows = conn.execute(EXACT_SQL if exact else ANN_SQL, params, binary=True).fetchall()
            elif exact:
                rows = conn.execute(EXACT_IN_RANGE_SQL, params, binary=True).fetchall()
            else:
                if self._iterative_scan:
                    conn.execute(ITERATIVE_SCAN_SQL)
                rows = conn.execute(ANN_IN_RANGE_SQL, params, binary=True).fetchall()
                if sum(1 for r in rows if r["is_dense"]) < pool:
                    rows = conn.execute(EXACT_IN_RANGE_SQL, params, binary=True).fetchall()
            wanted = sorted({r["doc_id"] for r in rows if self._documents.cached(r["doc_id"]) is None})
            if wanted:
                found = conn.cursor(binary=True, row_factory=class_row(Document)).execute(
                    f"SELECT {DOC_COLUMNS} FROM qa_documents WHERE doc_id = ANY(%s)".encode(), (wanted,)
                )
                self._documents._remember(found.fetchall())
        scored = bm25.scores(
            [t for t in query_terms if t in df],
            df,
            state["passages"],
            state["total_terms"],
            [r["tf"] for r in rows],
            [r["n_terms"] for r in rows],
        )
        sparse = [i for i, r in enumerate(rows) if r["is_sparse"] and scored[i] > 0]
        sparse.sort(key=lambda i: (-scored[i], rows[i]["id"]))
        keep = {i for i, r in enumerate(rows) if r["is_dense"]} | set(sparse[:pool])
        chosen = sorted(keep)
        if not chosen:  # nothing published in the asked range
            return Candidates([], np.zeros(0, np.float32), np.zeros(0, np.float32))
        passages = []
        for r in (rows[i] for i in chosen):
            doc_id, start, end = r["doc_id"], r["start_char"], r["end_char"]
            passages.append(
                Passage(
                    f"{doc_id}:{start}",
                    doc_id,
                    start,
                    end,
                    self._documents[doc_id].text[start:end],
                    [tuple(s) for s in r["sentences"]],
                    [tuple(s) for s in r["spans"]],
                )
            )
        vectors = np.array([as_array(rows[i]["embedding"]) for i in chosen], dtype=np.float32).reshape(len(chosen), -1)
        dense = vectors @ vector if len(chosen) else np.zeros(0, np.float32)
        return Candidates(passages, dense, scored[chosen].astype(np.float32))


# The version this transaction reads, HNSW's candidate list for it, and the query terms' passage counts.
HEAD_SQL = b"""
SELECT s.version, t.term, t.df, set_config('hnsw.ef_search', %(ef)s, true)
FROM qa_state s LEFT JOIN qa_terms t ON t.term = ANY(%(terms)s::text[])
"""

# Dense ids, BM25 ids and then each candidate with what scoring needs: (id, is dense, is BM25,
# doc id, offsets, sentences, spans, length, query-term counts, vector). BM25 reads each term's
# best postings by impact (btree, index-only) and ranks by float8 BM25 over them (`bm25.IDF_SQL`
# times `bm25.TF_SQL`).
_CANDIDATES_SQL = """
WITH st AS (SELECT passages, greatest(total_terms::float8 / greatest(passages, 1), 1) AS avgdl FROM qa_state),
q AS (
    SELECT w.term, w.n * {idf} AS weight
    FROM unnest(%(terms)s::text[], %(counts)s::int[]) AS w(term, n)
    JOIN qa_terms t ON t.term = w.term CROSS JOIN st
),
dense AS (SELECT id FROM qa_passages {in_range} ORDER BY {order} LIMIT %(pool)s),
sparse AS (
    SELECT c.passage_id AS id
    FROM q CROSS JOIN LATERAL (
        SELECT po.passage_id, po.tf, po.n_terms FROM qa_postings po
        WHERE po.term = q.term {posting_in_range} ORDER BY po.impact DESC, po.passage_id LIMIT %(cap)s
    ) c CROSS JOIN st
    GROUP BY c.passage_id
    ORDER BY sum(q.weight * {tf}) DESC, c.passage_id
    LIMIT %(limit)s
),
ids AS (
    SELECT id, bool_or(is_dense) AS is_dense, bool_or(NOT is_dense) AS is_sparse
    FROM (SELECT id, true AS is_dense FROM dense UNION ALL SELECT id, false FROM sparse) u GROUP BY id
)
SELECT p.id, ids.is_dense, ids.is_sparse, p.doc_id, p.start_char, p.end_char, p.sentences, p.spans, p.n_terms,
       (SELECT coalesce(jsonb_object_agg(u.lexeme, cardinality(u.positions)), '{{}}'::jsonb)
          FROM unnest(p.tsv) AS u WHERE u.lexeme = ANY(%(terms)s::text[])) AS tf,
       p.embedding
FROM ids JOIN qa_passages p ON p.id = ids.id
ORDER BY p.id
"""


def _candidates_sql(order: str, in_range: bool = False) -> bytes:
    """The candidates statement; `in_range`: only passages published from %(since)s to %(until)s (NULL never)."""
    idf = bm25.IDF_SQL.format(n="st.passages", df="t.df")
    tf = bm25.TF_SQL.format(tf="c.tf", dl="c.n_terms", avgdl="st.avgdl")
    return _CANDIDATES_SQL.format(
        order=order,
        idf=idf,
        tf=tf,
        in_range="WHERE published_day BETWEEN %(since)s AND %(until)s" if in_range else "",
        posting_in_range="AND po.published_day BETWEEN %(since)s AND %(until)s" if in_range else "",
    ).encode()


EXACT_ORDER = "(embedding <=> %(vector)s) + 0"  # "+ 0": not the HNSW index
EXACT_SQL = _candidates_sql(EXACT_ORDER)
ANN_SQL = _candidates_sql("embedding <=> %(vector)s")
EXACT_IN_RANGE_SQL = _candidates_sql(EXACT_ORDER, in_range=True)
ANN_IN_RANGE_SQL = _candidates_sql("embedding <=> %(vector)s", in_range=True)
# pgvector 0.8+: a filtered HNSW scan goes on past ef_search candidates until LIMIT rows pass the
# filter (up to hnsw.max_scan_tuples); relaxed order is fine, every candidate is re-scored exactly.
ITERATIVE_SCAN_SQL = b"SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)"
