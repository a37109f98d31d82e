"""Build and load the searchable index: documents, passages, FAISS vectors and BM25.

`build_index` turns documents into a new snapshot in the `Snapshots`; `load_index` opens the
live snapshot and refuses one built with another model or encoder runtime than configured.
Passage vectors of an earlier snapshot are reused when the indexed text is unchanged, so
re-indexing a folder only encodes what is new.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import bm25s
import numpy as np

from embeddings.encoder import Encoder
from qa.daterange import DateRange, publication_day
from qa.errors import StoreError
from qa.ingest.chunking import Passage, chunk_documents
from qa.ingest.sources import Document
from qa.ingest.tagging import SpanTagger
from qa.stores.base import BM25_B, BM25_K1, BM25_METHOD, BuildReport, Candidates
from qa.stores.build import check_compatible, classify_documents, indexed_text, tag_and_encode, text_key
from qa.stores.local.snapshots import Snapshot, Snapshots
from qa.stores.local.vectors import DEFAULT_ANN_THRESHOLD, RowFilter, VectorIndex
from qa.text import terms_batch

DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
TERMS = "terms.json"
BM25_DIR = "bm25"
UNDATED = 0  # `Index.days` of a passage whose document has no publication day (real days are >= 1)
# Date ranges whose `RowFilter` an index keeps (a bool a passage, plus a bit a passage once the IVF
# search has used it: ~1.1 MiB a range at 1M passages). Making one costs ~1-2 ms at 1M passages.
FILTERS_KEPT = 16


@dataclass
class Index:
    """One snapshot, loaded: the `IndexReader` of the local backend."""

    snapshot: Snapshot
    documents: dict[str, Document]
    passages: list[Passage]
    vectors: VectorIndex
    bm25: bm25s.BM25
    passage_freq: dict[str, int]
    _filters: dict[tuple[int, int], RowFilter] = field(default_factory=dict, init=False, repr=False, compare=False)
    _filters_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def version(self) -> str:
        return self.snapshot.version

    @property
    def manifest(self) -> dict:
        return self.snapshot.manifest

    @property
    def passage_count(self) -> int:
        return len(self.passages)

    def passage_counts(self) -> dict[str, int]:
        return dict(Counter(p.doc_id for p in self.passages))

    @cached_property
    def days(self) -> np.ndarray:
        """Each passage's publication day (`date.toordinal`), `UNDATED` (0) where its document has none.

        Read from the documents' `published` (`qa.daterange.publication_day`) the first time a
        date filter needs it; questions without one never pay for it.
        """
        ordinals = {
            doc_id: day.toordinal() if (day := publication_day(doc.published)) else UNDATED
            for doc_id, doc in self.documents.items()
        }
        return np.fromiter((ordinals[p.doc_id] for p in self.passages), dtype=np.int32, count=len(self.passages))

    def row_filter(self, dates: DateRange) -> RowFilter:
        """The passages published within `dates` (undated ones never), kept for the last `FILTERS_KEPT` ranges."""
        key = (dates.first.toordinal(), dates.last.toordinal())
        with self._filters_lock:
            kept = self._filters.pop(key, None)
        if kept is None:
            days = self.days
            kept = RowFilter((days >= key[0]) & (days <= key[1]))
        with self._filters_lock:
            self._filters[key] = kept  # (re)inserted last: the dict's order is least recently used first
            while len(self._filters) > FILTERS_KEPT:
                del self._filters[next(iter(self._filters))]
        return kept

    def rows_in(self, dates: DateRange) -> np.ndarray:
        """The rows of passages published within `dates`, ascending (undated ones never)."""
        return self.row_filter(dates).rows

    def candidates(self, query_terms: list[str], vector: np.ndarray, pool: int, dates: DateRange | None = None) -> Candidates:
        """Exact (or IVF) dense top `pool` and BM25 top `pool`, in row order, scored by both.

        With `dates`, both sides consider only the rows in range: the dense side's best `pool` in
        range (`VectorIndex.search_filtered`: exact over those rows' vectors, or the IVF scan
        restricted to them), the BM25 side with every other row's score set to 0.
        """
        n_passages = len(self.passages)
        within = None if dates is None else self.row_filter(dates)
        if within is None:
            _, dense_ids = self.vectors.search(vector, pool)
        else:
            _, dense_ids = self.vectors.search_filtered(vector, pool, within)
        query_terms = [t for t in query_terms if t in self.bm25.vocab_dict]
        bm25_all = self.bm25.get_scores(query_terms) if query_terms else np.zeros(n_passages, np.float32)
        if within is not None and query_terms:
            bm25_all = bm25_all * within.mask  # 1 ms at 1M passages; np.where's branches take 3-9 ms
        if query_terms:
            top = np.argpartition(-bm25_all, min(pool, n_passages - 1))[:pool]
            bm25_ids = top[bm25_all[top] > 0]
        else:
            bm25_ids = np.zeros(0, np.int64)
        ids = np.unique(np.concatenate([dense_ids[dense_ids >= 0], bm25_ids]).astype(np.int64))
        dense = self.vectors.vectors[ids] @ vector
        return Candidates([self.passages[i] for i in ids], dense, bm25_all[ids].astype(np.float32))


def _current_index(snapshots: Snapshots, encoder: Encoder) -> Index | None:
    """The live snapshot, or None if there is none yet. A damaged or incompatible one raises."""
    if not snapshots.exists():
        return None
    return load_index(snapshots, encoder.model_name, encoder.backend)


def build_index(
    documents: Iterable[Document],
    encoder: Encoder,
    snapshots: Snapshots,
    max_chars: int,
    progress: Callable[[int, int], None] | None = None,
    scanned_roots: list[str] | None = None,
    ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    tagger: SpanTagger | None = None,
) -> BuildReport:
    """Write a new snapshot and make it live; the old one serves until the switch.

    With `scanned_roots`, the update is incremental: documents from other roots are kept, documents
    under a scanned root that were not found again are removed, unchanged documents keep their
    passages and vectors. Without it, `documents` is the whole new index. Either way a passage
    whose text is already in the live snapshot is not encoded (nor tagged) again. Call with
    `snapshots.lock()` held.
    """
    tagger = tagger or SpanTagger()
    previous = _current_index(snapshots, encoder)
    old_docs = previous.documents if previous else {}
    report, new_docs, kept = classify_documents(
        documents, {d: (doc.content_hash, doc.root) for d, doc in old_docs.items()}, scanned_roots
    )
    for doc_id in kept:
        new_docs[doc_id] = old_docs[doc_id]

    same_chunking = previous is not None and previous.manifest.get("max_passage_chars") == max_chars
    reuse = {d for d in new_docs if d in old_docs and d not in report.updated} if same_chunking else set()
    old_rows: dict[str, list[int]] = {}
    if previous:
        for row, passage in enumerate(previous.passages):
            old_rows.setdefault(passage.doc_id, []).append(row)
    known: dict[str, int] | None = None  # stored vectors by indexed-text hash, built only if needed

    rechunk = [(doc_id, doc.text) for doc_id, doc in new_docs.items() if doc_id not in reuse]  # reuse needs a previous
    # Chunked all at once, before the loop: in worker processes when the batch is big.
    chunked = dict(zip([d for d, _ in rechunk], chunk_documents(rechunk, max_chars), strict=True))
    passages: list[Passage] = []
    source_rows: list[int] = []  # row of the stored vector to reuse, or -1 to encode
    for doc_id, doc in new_docs.items():
        if doc_id in reuse and previous is not None:
            for row in old_rows.get(doc_id, []):
                passages.append(previous.passages[row])
                source_rows.append(row)
            continue
        if known is None:
            known = (
                {text_key(indexed_text(p, previous.documents[p.doc_id])): row for row, p in enumerate(previous.passages)}
                if previous
                else {}
            )
        for passage in chunked[doc_id]:
            passages.append(passage)
            source_rows.append(known.get(text_key(indexed_text(passage, doc)), -1))

    vectors = np.zeros((len(passages), encoder.dim), dtype=np.float32)
    todo = [i for i, row in enumerate(source_rows) if row < 0]
    if previous is not None:
        reused = [i for i, row in enumerate(source_rows) if row >= 0]
        vectors[reused] = previous.vectors.vectors[[source_rows[i] for i in reused]]
        for i in reused:  # same text, maybe elsewhere in its document: shift the stored spans
            stored = previous.passages[source_rows[i]]
            shift = passages[i].start - stored.start
            passages[i].spans = [(s + shift, e + shift, label) for s, e, label in stored.spans]
    tag_and_encode(
        passages,
        todo,
        [indexed_text(passages[i], new_docs[passages[i].doc_id]) for i in todo],
        vectors,
        tagger,
        encoder,
        progress,
    )
    report.encoded = len(todo)
    report.documents, report.passages = len(new_docs), len(passages)
    if same_chunking and not report.changed and previous is not None:
        report.version = previous.version  # nothing to write
        return report
    identity = {"model": encoder.model_name, "backend": encoder.backend, "dim": encoder.dim, "ner_model": tagger.model}
    report.version = write_snapshot(snapshots, new_docs, passages, vectors, identity, max_chars, ann_threshold).version
    return report


def write_snapshot(
    snapshots: Snapshots,
    docs: dict[str, Document],
    passages: list[Passage],
    vectors: np.ndarray,
    identity: dict,
    max_chars: int,
    ann_threshold: int = DEFAULT_ANN_THRESHOLD,
) -> Snapshot:
    """Write every file of a snapshot into a fresh folder and publish it atomically.

    `identity` is the encoder's {"model", "backend", "dim"}, recorded so other encoders are refused.
    """
    tokens = terms_batch([indexed_text(p, docs[p.doc_id]) for p in passages])
    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method=BM25_METHOD)
    bm25.index(tokens, show_progress=False)
    passage_freq = Counter(t for toks in tokens for t in set(toks))

    tmp = snapshots.new_snapshot_dir()
    with open(tmp / DOCUMENTS, "w", encoding="utf-8") as fh:
        for doc in docs.values():
            fh.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
    with open(tmp / PASSAGES, "w", encoding="utf-8") as fh:
        for p in passages:
            row = {"id": p.id, "doc_id": p.doc_id, "start": p.start, "end": p.end, "sentences": p.sentences, "spans": p.spans}
            fh.write(json.dumps(row) + "\n")
    (tmp / TERMS).write_text(json.dumps(passage_freq))
    vector_index = VectorIndex.build(vectors, ann_threshold)
    vector_index.save(tmp)
    bm25.save(str(tmp / BM25_DIR))
    manifest = {
        **identity,
        "documents": len(docs),
        "passages": len(passages),
        "max_passage_chars": max_chars,
        "vector_index": vector_index.params,
    }
    return snapshots.publish(tmp, manifest)


def remove_documents(snapshots: Snapshots, doc_ids: list[str], model: str, backend: str) -> tuple[list[str], list[str]]:
    """Publish a snapshot without these documents; returns (removed, unknown ids). Hold the lock; `NoIndex` if none."""
    index = load_index(snapshots, model, backend)
    unknown = [d for d in doc_ids if d not in index.documents]
    drop = set(doc_ids) - set(unknown)
    if drop:
        keep = [i for i, p in enumerate(index.passages) if p.doc_id not in drop]
        docs = {k: v for k, v in index.documents.items() if k not in drop}
        identity = {k: index.manifest.get(k) for k in ("model", "backend", "dim", "ner_model")}
        write_snapshot(
            snapshots,
            docs,
            [index.passages[i] for i in keep],
            index.vectors.vectors[keep],
            identity,
            index.manifest.get("max_passage_chars", 600),
        )
    return sorted(drop), unknown


def load_index(snapshots: Snapshots, model: str, backend: str) -> Index:
    """The live snapshot, loaded: `NoIndex` if there is none, StoreError naming the fix if it is damaged or incompatible."""
    snapshot = snapshots.current()
    check_compatible(snapshot.manifest, snapshot.path, model, backend)
    path = snapshot.path

    def damaged(name: str, exc: Exception) -> StoreError:
        return StoreError(f"{path / name} is damaged ({exc}): rebuild with `qa index --rebuild PATH`")

    documents: dict[str, Document] = {}
    try:
        with open(path / DOCUMENTS, encoding="utf-8") as fh:
            for line in fh:
                doc = Document(**json.loads(line))
                documents[doc.doc_id] = doc
    except (OSError, ValueError, TypeError) as exc:
        raise damaged(DOCUMENTS, exc) from exc
    passages = []
    try:
        with open(path / PASSAGES, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                text = documents[row["doc_id"]].text[row["start"] : row["end"]]
                passages.append(
                    Passage(
                        row["id"],
                        row["doc_id"],
                        row["start"],
                        row["end"],
                        text,
                        [tuple(s) for s in row["sentences"]],
                        [tuple(s) for s in row["spans"]],
                    )
                )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise damaged(PASSAGES, exc) from exc
    try:
        passage_freq = json.loads((path / TERMS).read_text())
    except (OSError, ValueError) as exc:
        raise damaged(TERMS, exc) from exc
    try:
        bm25 = bm25s.BM25.load(str(path / BM25_DIR))
    except Exception as exc:  # bm25s raises assorted errors on damaged files
        raise damaged(BM25_DIR, exc) from exc
    vectors = VectorIndex.load(path)
    if len(vectors) != len(passages):
        raise StoreError(
            f"{path} holds {len(vectors)} vectors for {len(passages)} passages: rebuild with `qa index --rebuild PATH`"
        )
    return Index(snapshot, documents, passages, vectors, bm25, passage_freq)
