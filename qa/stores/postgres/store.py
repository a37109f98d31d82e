"""The PostgreSQL backend: the index in tables, pgvector for vectors, postings for BM25 candidates.

Writing (`qa index`, `qa remove`) runs on the primary (`QA_STORE_URL`) under a session advisory
lock, so concurrent runs serialize; the lock dies with its connection, so a killed run frees
it. Each run does its slow part first (chunking, tagging, encoding only documents whose content
hash changed, reusing stored vectors by passage-text hash), then writes everything in ONE
transaction that also sets a new `qa_state.version`: readers (never blocked, MVCC) see the
index before or after a run, never half of one, and a kill -9 leaves the previous version.
Reading goes to `QA_STORE_READ_URL` when set (a streaming standby), else to the primary.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from qa.config import without_password
from qa.daterange import publication_day
from qa.errors import NoIndex, StoreError
from qa.ingest.chunking import Passage, chunk_documents
from qa.ingest.sources import Document
from qa.ingest.tagging import SpanTagger
from qa.stores.base import BuildReport, BuildRequest, Store
from qa.stores.build import check_compatible, classify_documents, indexed_text, tag_and_encode, text_key
from qa.stores.postgres import bm25
from qa.stores.postgres.connect import CONNECT_TIMEOUT_S, Connection, connect, db_errors
from qa.stores.postgres.reader import DOC_COLUMNS, DOC_FIELDS, PgIndex, as_array
from qa.stores.postgres.schema import check_schema, migrate
from qa.text import terms

WRITER_LOCK = 0x71615F696478  # advisory lock key: "qa_idx"
# The postings' search indexes (as in migrations 2 and 3), built after the rows on a first build.
POSTINGS_INDEXES = {
    "qa_postings_term": "(term, impact DESC, passage_id) INCLUDE (tf, n_terms, published_day)",
    "qa_postings_passage": "(passage_id)",
}
STATE_COLUMNS = "version, built_at, model, backend, dim, ner_model, max_passage_chars, documents, passages, total_terms"


def has_iterative_scan(pgvector_version: str) -> bool:
    """Whether this pgvector (`extversion`, "0.8.0") has iterative index scans (`hnsw.iterative_scan`, 0.8 on)."""
    try:
        major, minor = (int(part) for part in pgvector_version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (0, 8)


def _new_version() -> str:
    return f"v-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


class PgStore(Store):
    """The index in PostgreSQL tables (`QA_STORE_URL=postgresql://...`): the `Store` that writes on
    the primary and reads through a connection pool, from `QA_STORE_READ_URL` when set."""

    def __init__(self, url: str, read_url: str | None = None, pool_size: int = 4, exact_below: int = 50_000) -> None:
        self.url = url
        self.read_url = read_url or url
        self.read_setting = "QA_STORE_READ_URL" if read_url else "QA_STORE_URL"
        self.pool_size = pool_size
        self.exact_below = exact_below
        self._pool: ConnectionPool[Connection] | None = None
        self._writer: Connection | None = None

    @property
    def location(self) -> str:
        return without_password(self.url)

    # ---- connections ---------------------------------------------------------------------------
    def _read_pool(self) -> ConnectionPool[Connection]:
        """Connections for readers, opened once the schema is known to be there (types registered)."""
        if self._pool is None:
            probe = connect(self.read_url, self.read_setting)
            try:
                with db_errors(self.read_url, self.read_setting):
                    check_schema(probe, without_password(self.read_url), can_migrate=self.read_url == self.url)
            finally:
                probe.close()

            def configure(conn: Connection) -> None:
                register_vector(conn)
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                conn.read_only = True

            pool = ConnectionPool(
                self.read_url,
                connection_class=Connection,
                min_size=1,
                max_size=self.pool_size,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "row_factory": dict_row},
                configure=configure,
                check=ConnectionPool.check_connection,
                timeout=CONNECT_TIMEOUT_S * 2,
                open=False,
                name="qa-read",
            )
            with db_errors(self.read_url, self.read_setting):
                pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
            self._pool = pool
            weakref.finalize(self, pool.close)  # a store dropped without close() (a CLI command) frees its connections
        return self._pool

    def _state(self, conn: Connection) -> dict[str, Any]:
        row = conn.execute(f"SELECT {STATE_COLUMNS} FROM qa_state".encode()).fetchone()
        return dict(row) if row else {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # ---- reading -------------------------------------------------------------------------------
    def current_version(self) -> str | None:
        pool = self._read_pool()
        with db_errors(self.read_url, self.read_setting), pool.connection() as conn:
            row = conn.execute(b"SELECT version FROM qa_state").fetchone()
        return row["version"] if row else None

    def exists(self) -> bool:
        try:
            return self.current_version() is not None
        except NoIndex:  # a standby whose primary has no schema yet
            return False

    def open(self, model: str, backend: str) -> PgIndex:
        pool = self._read_pool()
        with db_errors(self.read_url, self.read_setting), pool.connection() as conn:
            state = self._state(conn)
            row = conn.execute(b"SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        if not state.get("version"):
            raise NoIndex(f"no index in {without_password(self.read_url)}: build one with `qa index PATH`")
        check_compatible(state, self.location, model, backend)
        iterative = row is not None and has_iterative_scan(str(row["extversion"]))
        return PgIndex(pool, self.read_url, self.read_setting, state, self.exact_below, owner=self, iterative_scan=iterative)

    # ---- writing -------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply missing schema migrations on the primary; returns how many were applied."""
        conn = connect(self.url, "QA_STORE_URL")
        try:
            with db_errors(self.url, "QA_STORE_URL"):
                return migrate(conn, self.location)
        finally:
            conn.close()

    @contextmanager
    def lock(self, wait_s: float = 0.0) -> Iterator[None]:
        """The writer's connection, holding the advisory lock that serializes `qa index` runs."""
        conn = connect(self.url, "QA_STORE_URL")
        try:
            with db_errors(self.url, "QA_STORE_URL"):
                migrate(conn, self.location)
                deadline = time.monotonic() + wait_s
                try_lock = b"SELECT pg_try_advisory_lock(%s) AS locked"
                while not conn.execute(try_lock, (WRITER_LOCK,)).fetchone()["locked"]:  # type: ignore[index]
                    if time.monotonic() >= deadline:
                        raise StoreError(f"another `qa index` is writing {self.location}; wait for it to finish and run again")
                    time.sleep(0.2)
                register_vector(conn)
            self._writer = conn
            yield
        finally:
            self._writer = None
            conn.close()  # ends the session, and with it the advisory lock

    def _require_writer(self) -> Connection:
        if self._writer is None:
            raise RuntimeError("hold PgStore.lock() while writing")
        return self._writer

    def _build(self, request: BuildRequest) -> BuildReport:
        """Index incrementally by content hash and publish in one transaction (see the module docstring)."""
        with db_errors(self.url, "QA_STORE_URL"):
            return self._index(request, request.tagger or SpanTagger())

    def _index(self, request: BuildRequest, tagger: SpanTagger) -> BuildReport:
        encoder, max_chars = request.encoder, request.max_chars
        conn = self._require_writer()
        state = self._state(conn)
        fresh = request.rebuild or not state.get("version")
        if not fresh:
            check_compatible(state, self.location, encoder.model_name, encoder.backend)
        old: dict[str, tuple[str, str | None]] = {}
        if not fresh:
            for r in conn.execute(b"SELECT doc_id, content_hash, root FROM qa_documents"):
                old[r["doc_id"]] = (r["content_hash"], r["root"])
        report, new_docs, kept = classify_documents(request.documents, old, request.scanned_roots)

        same_chunking = not fresh and state.get("max_passage_chars") == max_chars
        changed = set(report.added) | set(report.updated)
        rechunk = [d for d in new_docs if d in changed or not same_chunking]
        if not same_chunking and kept:  # passage length changed: every kept document is chunked again
            found = conn.cursor(row_factory=class_row(Document)).execute(
                f"SELECT {DOC_COLUMNS} FROM qa_documents WHERE doc_id = ANY(%s) ORDER BY seq".encode(), (kept,)
            )
            new_docs.update({doc.doc_id: doc for doc in found})
            rechunk += kept
        passages: list[Passage] = []  # chunked in worker processes when the batch is big
        for chunked in chunk_documents([(doc_id, new_docs[doc_id].text) for doc_id in rechunk], max_chars):
            passages.extend(chunked)
        texts = [indexed_text(p, new_docs[p.doc_id]) for p in passages]
        keys = [text_key(t) for t in texts]
        vectors = np.zeros((len(passages), encoder.dim), dtype=np.float32)
        known: dict[str, tuple[int, list, np.ndarray]] = {}
        if not fresh and passages:
            for r in conn.execute(
                b"SELECT DISTINCT ON (text_hash) text_hash, start_char, spans, embedding FROM qa_passages "
                b"WHERE text_hash = ANY(%s)",
                (sorted(set(keys)),),
            ):
                known[r["text_hash"]] = (r["start_char"], r["spans"], as_array(r["embedding"]))
        todo = []
        for i, (passage, key) in enumerate(zip(passages, keys, strict=True)):
            if key in known and len(known[key][2]) == encoder.dim:
                start, spans, vectors[i] = known[key]
                shift = passage.start - start  # same text, maybe elsewhere in its document
                passage.spans = [(s + shift, e + shift, label) for s, e, label in spans]
            else:
                todo.append(i)
        tag_and_encode(passages, todo, [texts[i] for i in todo], vectors, tagger, encoder, request.progress)
        report.encoded = len(todo)
        if not fresh and same_chunking and not report.changed:
            report.documents, report.passages, report.version = state["documents"], state["passages"], state["version"]
            return report

        identity = {
            "model": encoder.model_name,
            "backend": encoder.backend,
            "dim": encoder.dim,
            "ner_model": tagger.model,
            "max_passage_chars": max_chars,
        }
        replaced = sorted(set(old) & (set(report.removed) | set(rechunk)))
        write = [new_docs[d] for d in rechunk]
        report.version = self._publish(
            conn, fresh, state, identity, replaced, report.removed, write, passages, texts, keys, vectors
        )
        final = self._state(conn)
        report.documents, report.passages = final["documents"], final["passages"]
        return report

    def _publish(
        self,
        conn: Connection,
        fresh: bool,
        state: dict[str, Any],
        identity: dict[str, Any],
        replaced: list[str],
        removed: list[str],
        docs: list[Document],
        passages: list[Passage],
        texts: list[str],
        keys: list[str],
        vectors: np.ndarray,
    ) -> str:
        """One transaction: drop what changed, write what is new, bump the version. All or nothing.

        Rows go in with COPY. The first build (nothing published yet, so nobody reads) loads the
        tables without their search indexes and builds those after (HNSW, postings), which is
        several times faster than growing them row by row; later runs keep them, so readers are
        never blocked.
        """
        version = _new_version()
        bulk = fresh and not state.get("version")
        retype = fresh and state.get("dim") != identity["dim"]
        with conn.transaction():
            if fresh:
                conn.execute(b"DELETE FROM qa_postings")
                conn.execute(b"DELETE FROM qa_documents")  # DELETE, not TRUNCATE: readers keep reading meanwhile
                conn.execute(b"DELETE FROM qa_terms")
            if bulk or retype:  # first build, or a rebuild for a model of another dimension
                conn.execute(b"DROP INDEX IF EXISTS qa_passages_embedding")
            if bulk:
                for name in POSTINGS_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}".encode())
            if retype:
                conn.execute(f"ALTER TABLE qa_passages ALTER COLUMN embedding TYPE vector({int(identity['dim'])})".encode())
            self._drop(conn, replaced, removed)
            self._write_documents(conn, docs, bulk)
            days = {doc.doc_id: publication_day(doc.published) for doc in docs}
            self._write_passages(conn, passages, texts, keys, vectors, days)
            if docs:
                self._write_postings(conn, [d.doc_id for d in docs], bulk)
            if bulk:
                for name, sql in POSTINGS_INDEXES.items():
                    conn.execute(f"CREATE INDEX {name} ON qa_postings {sql}".encode())
            if bulk or retype:
                conn.execute(b"CREATE INDEX qa_passages_embedding ON qa_passages USING hnsw (embedding vector_cosine_ops)")
            self._set_state(conn, version, identity)
        if bulk:  # statistics and visibility map for the planner and index-only scans; outside the transaction
            conn.execute(b"VACUUM (ANALYZE) qa_passages, qa_postings, qa_terms, qa_documents")
        return version

    def _write_documents(self, conn: Connection, docs: list[Document], bulk: bool) -> None:
        rows = [tuple(getattr(d, name) for name in DOC_FIELDS) for d in docs]
        if bulk:  # an empty table: nothing to update
            with conn.cursor().copy(f"COPY qa_documents ({DOC_COLUMNS}) FROM STDIN".encode()) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        conn.cursor().executemany(
            f"INSERT INTO qa_documents ({DOC_COLUMNS}) VALUES ({', '.join(['%s'] * len(DOC_FIELDS))}) "
            "ON CONFLICT (doc_id) DO UPDATE SET text = EXCLUDED.text, title = EXCLUDED.title, url = EXCLUDED.url, "
            "published = EXCLUDED.published, publisher = EXCLUDED.publisher, source = EXCLUDED.source, "
            "content_hash = EXCLUDED.content_hash, root = EXCLUDED.root".encode(),
            rows,
        )

    def _write_passages(
        self,
        conn: Connection,
        passages: list[Passage],
        texts: list[str],
        keys: list[str],
        vectors: np.ndarray,
        days: dict[str, date | None],
    ) -> None:
        """The passages' rows; `days` is each document's publication day (None: undated), for date filters."""
        ordinals: dict[str, int] = {}
        with conn.cursor().copy(
            b"COPY qa_passages (doc_id, ordinal, start_char, end_char, text, sentences, spans, text_hash, n_terms, tsv, "
            b"embedding, published_day) FROM STDIN"
        ) as copy:
            for passage, text, key, vector in zip(passages, texts, keys, vectors, strict=True):
                tokens = terms(text)
                ordinal = ordinals[passage.doc_id] = ordinals.get(passage.doc_id, -1) + 1
                copy.write_row(
                    (
                        passage.doc_id,
                        ordinal,
                        passage.start,
                        passage.end,
                        passage.text,
                        Jsonb(passage.sentences),
                        Jsonb(passage.spans),
                        key,
                        len(tokens),
                        bm25.tsvector_literal(tokens),
                        vector,
                        days.get(passage.doc_id),
                    )
                )

    def _write_postings(self, conn: Connection, doc_ids: list[str], bulk: bool) -> None:
        """Postings and term counts of these documents' passages, from their tsvectors (all passages when bulk)."""
        row = conn.execute(b"SELECT sum(n_terms)::float8 / nullif(count(*), 0) AS avgdl FROM qa_passages").fetchone()
        avgdl = max(float(row["avgdl"] or 1.0), 1.0) if row else 1.0  # impacts only order a term's postings
        impact = bm25.TF_SQL.format(tf="cardinality(u.positions)", dl="p.n_terms", avgdl="%(avgdl)s::float8")
        where = "" if bulk else "WHERE p.doc_id = ANY(%(docs)s)"
        conn.execute(
            "INSERT INTO qa_postings (term, passage_id, tf, n_terms, impact, published_day) "
            f"SELECT u.lexeme, p.id, cardinality(u.positions), p.n_terms, {impact}, p.published_day "
            "FROM qa_passages p, unnest(p.tsv) u "
            f"{where}".encode(),
            {"avgdl": avgdl, "docs": doc_ids},
        )
        if bulk:
            conn.execute(b"INSERT INTO qa_terms (term, df) SELECT term, count(*) FROM qa_postings GROUP BY term")
            return
        conn.execute(
            b"INSERT INTO qa_terms (term, df) SELECT u.lexeme, count(*) FROM qa_passages p, unnest(p.tsv) u "
            b"WHERE p.doc_id = ANY(%s) GROUP BY u.lexeme "
            b"ON CONFLICT (term) DO UPDATE SET df = qa_terms.df + EXCLUDED.df",
            (doc_ids,),
        )

    def _drop(self, conn: Connection, replaced: list[str], removed: list[str]) -> None:
        """Take these documents' passages out of the term statistics, the postings and the tables."""
        if not replaced:
            return
        conn.execute(
            b"UPDATE qa_terms t SET df = t.df - c.n FROM (SELECT u.lexeme, count(*) AS n FROM qa_passages p, unnest(p.tsv) u "
            b"WHERE p.doc_id = ANY(%s) GROUP BY u.lexeme) c WHERE t.term = c.lexeme",
            (replaced,),
        )
        conn.execute(b"DELETE FROM qa_terms WHERE df <= 0")
        conn.execute(
            b"DELETE FROM qa_postings WHERE passage_id IN (SELECT id FROM qa_passages WHERE doc_id = ANY(%s))", (replaced,)
        )
        conn.execute(b"DELETE FROM qa_passages WHERE doc_id = ANY(%s)", (replaced,))
        if removed:
            conn.execute(b"DELETE FROM qa_documents WHERE doc_id = ANY(%s)", (removed,))

    def _set_state(self, conn: Connection, version: str, identity: dict[str, Any]) -> None:
        conn.execute(
            b"UPDATE qa_state SET version = %(version)s, built_at = now(), model = %(model)s, backend = %(backend)s, "
            b"dim = %(dim)s, ner_model = %(ner_model)s, max_passage_chars = %(max_passage_chars)s, "
            b"documents = (SELECT count(*) FROM qa_documents), passages = (SELECT count(*) FROM qa_passages), "
            b"total_terms = (SELECT coalesce(sum(n_terms), 0) FROM qa_passages)",
            {"version": version, **identity},
        )

    def remove(self, doc_ids: list[str], model: str, backend: str) -> tuple[list[str], list[str]]:
        conn = self._require_writer()
        with db_errors(self.url, "QA_STORE_URL"):
            state = self._state(conn)
            if not state.get("version"):
                raise NoIndex(f"no index in {self.location}: build one with `qa index PATH`")
            check_compatible(state, self.location, model, backend)
            found = {r["doc_id"] for r in conn.execute(b"SELECT doc_id FROM qa_documents WHERE doc_id = ANY(%s)", (doc_ids,))}
            unknown = [d for d in doc_ids if d not in found]
            if found:
                identity = {k: state[k] for k in ("model", "backend", "dim", "ner_model", "max_passage_chars")}
                with conn.transaction():
                    self._drop(conn, sorted(found), sorted(found))
                    self._set_state(conn, _new_version(), identity)
        return sorted(found), unknown
