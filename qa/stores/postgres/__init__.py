"""The PostgreSQL backend: pgvector for vectors, BM25 statistics in tables (`bm25`), the schema and
its migrations (`schema`), connections (`connect`), a consistent read view (`reader`) and the
store that builds and publishes (`store`)."""

from qa.stores.postgres.store import PgStore

__all__ = ["PgStore"]
