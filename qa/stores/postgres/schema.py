"""The PostgreSQL schema of the index and its ordered migrations.

`migrate` applies the migrations a database lacks, in order, each in its own transaction and
recorded in `qa_schema_migrations`, under an advisory lock so two processes starting together
do not both apply one. A database whose schema is newer than this code is refused with a
message: an old `qa` must not write into a layout it does not know. Readers on a standby cannot
migrate; `check_schema` tells them to run `qa migrate` against the primary.

The embedding column starts untyped (`vector`); the first `qa index` types it `vector(dim)` for
its model and builds the HNSW index (cosine), since the dimension is the model's to decide.
Migration 2 adds `qa_postings`, BM25's postings with a btree read best-impact-first, filled from
the stored tsvectors, and drops the GIN index that searched them. Migration 3 adds each passage's
publication day (`published_day`, NULL when undated) to `qa_passages` and, for index-only
filtering, to `qa_postings`, filled from the documents' `published` by `qa_published_day` (the
SQL form of `qa.daterange.publication_day`), so date filters work on an index built before them.
"""

from __future__ import annotations

import psycopg

from qa.errors import NoIndex, StoreError
from qa.stores.postgres.bm25 import TF_SQL
from qa.stores.postgres.connect import Connection

MIGRATE_LOCK = 0x71615F6D6967  # advisory lock key: "qa_mig"

# A posting's impact: its term's BM25 weight without idf (`bm25.TF_SQL`). A term's postings are
# read best-first by it, so a query reads a bounded number of them (qa.stores.postgres.reader).
_BACKFILL_IMPACT = TF_SQL.format(
    tf="cardinality(u.positions)", dl="p.n_terms", avgdl="greatest(s.total_terms::float8 / greatest(s.passages, 1), 1)"
)

MIGRATIONS: list[tuple[str, str]] = [
    (
        "documents, passages (vectors, tsvector), BM25 term statistics, index state",
        """
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE qa_documents (
            doc_id text PRIMARY KEY,
            seq bigserial NOT NULL,          -- listing order, like documents.jsonl
            title text NOT NULL,
            url text,
            published text,
            publisher text,
            source text,                     -- file the document came from
            content_hash text NOT NULL,      -- unchanged documents are skipped by it
            root text,                       -- folder given to `qa index` that found it
            text text NOT NULL               -- cleaned text; passage offsets point into it
        );
        CREATE TABLE qa_passages (
            id bigserial PRIMARY KEY,        -- stable passage order (fusion breaks ties by it)
            doc_id text NOT NULL REFERENCES qa_documents (doc_id) ON DELETE CASCADE,
            ordinal int NOT NULL,
            start_char int NOT NULL,
            end_char int NOT NULL,
            text text NOT NULL,
            sentences jsonb NOT NULL,        -- [[start, end], ...] absolute offsets
            spans jsonb NOT NULL,            -- [[start, end, label], ...] entities and noun phrases
            text_hash text NOT NULL,         -- sha1 of the indexed text: vectors are reused by it
            n_terms int NOT NULL,            -- BM25 length of the indexed text (title + passage)
            tsv tsvector NOT NULL,           -- its terms (qa.text.terms); positions count occurrences
            embedding vector NOT NULL,       -- typed vector(dim) with an HNSW index by the first build
            UNIQUE (doc_id, ordinal)
        );
        CREATE INDEX qa_passages_tsv ON qa_passages USING gin (tsv);
        CREATE INDEX qa_passages_text_hash ON qa_passages (text_hash);
        CREATE TABLE qa_terms (              -- passages containing each term: BM25 idf and the answerer's
            term text PRIMARY KEY,
            df int NOT NULL
        );
        CREATE TABLE qa_state (              -- one row; `version` changes with every published run
            id int PRIMARY KEY CHECK (id = 1),
            version text,
            built_at timestamptz,
            model text,
            backend text,
            dim int,
            ner_model text,
            max_passage_chars int,
            documents int NOT NULL DEFAULT 0,
            passages int NOT NULL DEFAULT 0,
            total_terms bigint NOT NULL DEFAULT 0
        );
        INSERT INTO qa_state (id) VALUES (1);
        """,
    ),
    (
        "BM25 postings ordered by impact, replacing the GIN index on tsvector",
        f"""
        CREATE TABLE qa_postings (           -- one row per (term, passage holding it)
            term text NOT NULL,
            passage_id bigint NOT NULL,      -- qa_passages.id; deleted with its passage by the writer
            tf int NOT NULL,                 -- occurrences in the indexed text
            n_terms int NOT NULL,            -- the passage's BM25 length
            impact real NOT NULL             -- tf / (tf + k1 (1 - b + b n_terms / avgdl)), avgdl when written
        );
        INSERT INTO qa_postings (term, passage_id, tf, n_terms, impact)
        SELECT u.lexeme, p.id, cardinality(u.positions), p.n_terms,
               {_BACKFILL_IMPACT}
        FROM qa_passages p CROSS JOIN qa_state s, unnest(p.tsv) u;
        CREATE INDEX qa_postings_term ON qa_postings (term, impact DESC, passage_id) INCLUDE (tf, n_terms);
        CREATE INDEX qa_postings_passage ON qa_postings (passage_id);
        DROP INDEX qa_passages_tsv;
        """,
    ),
    (
        "publication day of each passage and posting, for date filters",
        """
        CREATE FUNCTION qa_published_day(published text) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE
            m text[] := regexp_match(published, '^\\s*([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?(?![0-9])');
        BEGIN  -- qa.daterange.publication_day: an ISO date, or a month (its first day), at the start
            IF m IS NULL THEN
                RETURN NULL;
            END IF;
            RETURN make_date(m[1]::int, m[2]::int, coalesce(m[3], '01')::int);
        EXCEPTION WHEN others THEN  -- no such day (2024-02-30, year 0)
            RETURN NULL;
        END $$;
        ALTER TABLE qa_passages ADD COLUMN published_day date;  -- NULL: undated, outside every date filter
        UPDATE qa_passages p SET published_day = qa_published_day(d.published)
        FROM qa_documents d WHERE d.doc_id = p.doc_id AND qa_published_day(d.published) IS NOT NULL;
        CREATE INDEX qa_passages_published_day ON qa_passages (published_day);
        ALTER TABLE qa_postings ADD COLUMN published_day date;  -- its passage's, so a filter reads the index alone
        UPDATE qa_postings po SET published_day = p.published_day
        FROM qa_passages p WHERE p.id = po.passage_id AND p.published_day IS NOT NULL;
        DROP INDEX IF EXISTS qa_postings_term;
        CREATE INDEX qa_postings_term ON qa_postings (term, impact DESC, passage_id) INCLUDE (tf, n_terms, published_day);
        """,
    ),
]
LATEST = len(MIGRATIONS)


def schema_version(conn: Connection) -> int | None:
    """The applied schema version, or None when the database has no qa schema yet."""
    exists = conn.execute("SELECT to_regclass('qa_schema_migrations') IS NOT NULL AS present").fetchone()
    if not exists or not exists["present"]:
        return None
    row = conn.execute("SELECT coalesce(max(version), 0) AS version FROM qa_schema_migrations").fetchone()
    return int(row["version"]) if row else 0


def _refuse_newer(version: int, where: str) -> None:
    if version > LATEST:
        raise StoreError(
            f"the index schema in {where} is version {version}, newer than this qa understands ({LATEST}): upgrade qa"
        )


def migrate(conn: Connection, where: str) -> int:
    """Apply missing migrations in order; returns how many were applied. `conn` is in autocommit."""
    version = schema_version(conn)
    if version is not None:
        _refuse_newer(version, where)
        if version == LATEST:
            return 0
    applied = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS qa_schema_migrations "
            "(version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = schema_version(conn) or 0
        _refuse_newer(version, where)
        for number, (name, sql) in enumerate(MIGRATIONS, start=1):
            if number <= version:
                continue
            try:
                conn.execute(sql.encode())  # bytes: several statements in one simple query
            except psycopg.errors.FeatureNotSupported as exc:
                raise StoreError(f"{where} cannot create the index schema ({exc}): install pgvector") from exc
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFile) as exc:
                raise StoreError(
                    f"{where} refused `CREATE EXTENSION vector` ({str(exc).splitlines()[0]}): install pgvector and have a "
                    "superuser run CREATE EXTENSION vector in this database"
                ) from exc
            conn.execute("INSERT INTO qa_schema_migrations (version, name) VALUES (%s, %s)", (number, name))
            applied += 1
    return applied


def check_schema(conn: Connection, where: str, can_migrate: bool) -> None:
    """Make sure the schema is the one this code reads: migrate it where allowed, else say how."""
    version = schema_version(conn)
    if version == LATEST:
        return
    if version is not None:
        _refuse_newer(version, where)
    if can_migrate:
        migrate(conn, where)
        return
    if version is None:
        raise NoIndex(f"no index in {where}: build one with `qa index PATH` against the primary (QA_STORE_URL)")
    raise StoreError(
        f"the index schema in {where} is version {version}, this qa needs {LATEST}: run `qa migrate` against the primary"
    )
