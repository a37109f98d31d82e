"""What every index backend offers: the reading side the pipeline answers from (`IndexReader`),
the writing side `qa index`, `qa docs` and `qa remove` drive (`Store`).

Two backends implement it: the local snapshot directory (`qa.stores.local`) and PostgreSQL with
pgvector (`qa.stores.postgres`). Retrieval fuses the candidates a backend returns with one piece
of code (`qa.retrieval`), and the answerer reads documents, passage frequencies and the passage
count through the same mappings, so both backends give the same answers as long as they return
the same candidates with the same raw scores: cosine for the dense side, bm25s's Lucene BM25
(`BM25_K1`, `BM25_B`, `bm25_idf`) for the sparse side.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.daterange import DateRange
from qa.errors import StoreError
from qa.ingest.chunking import Passage
from qa.ingest.sources import Document

if TYPE_CHECKING:
    from embeddings.encoder import Encoder
    from qa.ingest.tagging import SpanTagger

# BM25 as bm25s scores it (method "lucene"): the local index hands these to bm25s, PostgreSQL
# computes the same formula from them (`qa.stores.postgres.bm25`).
BM25_METHOD = "lucene"
BM25_K1, BM25_B = 1.5, 0.75


def bm25_idf(df: int, n: int) -> float:
    """A term's BM25 weight: in `df` of `n` passages, as bm25s's "lucene" idf (never negative)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


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
    """One published version of the index, as the retriever, answerer and front ends read it.

    A loaded snapshot (`qa.stores.local.index.Index`) or a view of the database at one version
    (`qa.stores.postgres.reader.PgIndex`).
    """

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

    def candidates(self, query_terms: list[str], vector: np.ndarray, pool: int, dates: DateRange | None = None) -> Candidates:
        """The `pool` best passages by cosine and the `pool` best by BM25 (score > 0), merged.

        With `dates`, only passages of documents published in that range (never undated ones) are
        considered, on both sides: the best `pool` in range, not the best `pool` filtered after.
        """
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


@dataclass
class BuildRequest:
    """One `Store.build` call's arguments, as the backend's `_build` receives them."""

    documents: Iterable[Document]
    encoder: Encoder
    max_chars: int
    progress: Callable[[int, int], None] | None = None
    scanned_roots: list[str] | None = None
    ann_threshold: int = 50_000
    tagger: SpanTagger | None = None  # None: the default spaCy pipeline
    rebuild: bool = False


class Store(ABC):
    """Where an index lives, whichever backend: publishes new versions and opens the live one.

    The base class of `LocalStore` (a snapshot directory) and `PgStore` (PostgreSQL): the
    pipeline, the CLI and the benchmarks hold a `Store` and never ask which. `build` is defined
    here once for both; each backend writes in its own `_build`.
    """

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the index is, for messages (a directory, or a URL without its password)."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether a version has been published (False, never `NoIndex`, before the first `qa index`)."""

    @abstractmethod
    def current_version(self) -> str | None:
        """The live version, cheaply: long-running processes poll it to notice a new index."""

    @abstractmethod
    def open(self, model: str, backend: str) -> IndexReader:
        """The live index: `NoIndex` before the first build; refused when built with another model or runtime."""

    @abstractmethod
    def lock(self, wait_s: float = 0.0) -> AbstractContextManager[None]:
        """Exclusive writer lock; StoreError naming the other `qa index` past `wait_s`."""

    def build(
        self,
        documents: Iterable[Document],
        encoder: Encoder,
        max_chars: int,
        progress: Callable[[int, int], None] | None = None,
        scanned_roots: list[str] | None = None,
        ann_threshold: int = 50_000,
        tagger: SpanTagger | None = None,
        rebuild: bool = False,
    ) -> BuildReport:
        """Index `documents` and publish, all or nothing. Hold `lock()`.

        Incremental by content hash (`qa.stores.build.classify_documents`): with `scanned_roots`,
        documents indexed from other folders are kept. `rebuild` starts from an empty index.
        """
        return self._build(BuildRequest(documents, encoder, max_chars, progress, scanned_roots, ann_threshold, tagger, rebuild))

    @abstractmethod
    def _build(self, request: BuildRequest) -> BuildReport:
        """The backend's side of `build`."""

    @abstractmethod
    def remove(self, doc_ids: list[str], model: str, backend: str) -> tuple[list[str], list[str]]:
        """Delete documents; returns (removed, unknown ids). Hold the lock; `NoIndex` if there is none."""

    @abstractmethod
    def close(self) -> None:
        """Release connections (nothing to do for a directory)."""
