"""What every index backend offers: the reading side the pipeline answers from, the writing side
`qa index`, `qa docs` and `qa remove` drive.

Two backends implement it: the local snapshot directory (`qa.index`, `qa.snapshots`) and
PostgreSQL with pgvector (`qa.stores.postgres`). Retrieval fuses the candidates a backend
returns with one piece of code (`qa.retrieval`), and the answerer reads documents, passage
frequencies and the passage count through the same mappings, so both backends give the same
answers as long as they return the same candidates with the same raw scores: cosine for the
dense side, bm25s's Lucene BM25 (k1 1.5, b 0.75) for the sparse side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qa.errors import StoreError
from qa.ingest.chunking import Passage
from qa.ingest.sources import Document

BM25_K1, BM25_B = 1.5, 0.75  # bm25s.BM25() defaults (method "lucene"), which the local index uses


class IndexChanged(StoreError):
    """A newer index was published while a request was reading the one it started on.

    The pipeline switches to the newer index and answers again; outside a request (the source
    viewer) it reaches the front end as 'unavailable', and the next try succeeds.
    """

    def __init__(self) -> None:
        super().__init__("the index changed while it was being read; try again")


@dataclass
class Candidates:
    """Passages proposed by the dense and BM25 sides for one query, each scored by both.

    `dense` is the raw cosine to the query vector, `bm25` the raw BM25 score (0 where the passage
    has none of the query's terms); the order is the backend's stable passage order.
    """

    passages: list[Passage]
    dense: np.ndarray
    bm25: np.ndarray


class IndexReader(Protocol):
    """One published version of the index, as the retriever, answerer and front ends read it."""

    @property
    def version(self) -> str: ...

    @property
    def manifest(self) -> Mapping[str, Any]: ...

    @property
    def documents(self) -> Mapping[str, Document]: ...

    @property
    def passage_freq(self) -> Mapping[str, int]: ...

    @property
    def passage_count(self) -> int: ...

    def passage_counts(self) -> dict[str, int]:
        """Passages per document id (for `qa docs`)."""
        ...

    def candidates(self, query_terms: list[str], vector: np.ndarray, pool: int) -> Candidates:
        """The `pool` best passages by cosine and the `pool` best by BM25 (score > 0), merged."""
        ...


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # skipped: same content as indexed
    skipped_duplicates: list[str] = field(default_factory=list)
    documents: int = 0
    passages: int = 0
    encoded: int = 0  # passages that needed the encoder; the rest reused stored vectors
    version: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


class Store(Protocol):
    """Where the index lives: publishes new versions and opens the live one."""

    @property
    def location(self) -> str:
        """Where the index is, for messages (a directory, or a URL without its password)."""
        ...

    def exists(self) -> bool: ...

    def current_version(self) -> str | None:
        """The live version, cheaply: long-running processes poll it to notice a new index."""
        ...

    def open(self, model: str, backend: str) -> IndexReader:
        """The live index; refused when it was built with another model or encoder runtime."""
        ...

    def lock(self, wait_s: float = 0.0) -> AbstractContextManager[None]:
        """Exclusive writer lock; StoreError naming the other `qa index` past `wait_s`."""
        ...

    def build(
        self,
        documents: Iterable[Document],
        encoder: Any,
        max_chars: int,
        progress: Callable[[int, int], None] | None = None,
        scanned_roots: list[str] | None = None,
        ann_threshold: int = 50_000,
        tagger: Any = None,
        rebuild: bool = False,
    ) -> BuildReport:
        """Index `documents` incrementally (see `qa.index.build_index`) and publish, all or nothing."""
        ...

    def remove(self, doc_ids: list[str], model: str, backend: str) -> tuple[list[str], list[str]]:
        """Delete documents; returns (removed, unknown ids). Hold the lock."""
        ...

    def close(self) -> None: ...
