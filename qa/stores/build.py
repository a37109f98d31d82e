"""The build step both index backends share: sort documents against what is indexed, tag and embed.

The local store (`qa.stores.local`) and PostgreSQL (`qa.stores.postgres`) differ in where
passages, vectors and BM25 statistics live; what is indexed, how documents are classified as
added, updated, unchanged or removed, and which models an index must have been built with are
decided here once.

Tagging and encoding of new passages run at the same time, so both cores stay busy: the encoder
(ONNX Runtime) works in the calling thread while a background thread streams the passages through
the tagger, which on a long run tags in a worker process of its own (`qa.ingest.tagging`). An
error on either side stops the other.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder, EncoderError, canonical_model_name
from qa.errors import StoreError, unavailable_on
from qa.ingest.chunking import Passage
from qa.ingest.sources import CorpusError, Document
from qa.ingest.tagging import SpanTagger
from qa.stores.base import BuildReport


def text_key(text: str) -> str:
    """The key stored vectors and spans are reused by: a hash of the indexed text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def classify_documents(
    documents: Iterable[Document], indexed: Mapping[str, tuple[str, str | None]], scanned_roots: list[str] | None
) -> tuple[BuildReport, dict[str, Document], list[str]]:
    """Sort `documents` against what is indexed (doc id → content hash and root), for every backend.

    Returns the report (added, updated, unchanged, removed, duplicates), the documents to index by
    id, and the ids of indexed documents to keep as they are: with `scanned_roots`, those from
    folders not scanned this time. Raises CorpusError when nothing would be left to index.
    """
    report = BuildReport()
    new_docs: dict[str, Document] = {}
    for doc in documents:
        if doc.doc_id in new_docs:
            report.skipped_duplicates.append(doc.doc_id)
            continue
        new_docs[doc.doc_id] = doc
        before = indexed.get(doc.doc_id)
        if before is None:
            report.added.append(doc.doc_id)
        elif before == (doc.content_hash, doc.root):
            report.unchanged.append(doc.doc_id)
        else:
            report.updated.append(doc.doc_id)
    roots = set(scanned_roots) if scanned_roots is not None else None
    kept: list[str] = []
    for doc_id, (_, root) in indexed.items():
        if doc_id in new_docs:
            continue
        if roots is None or root in roots:
            report.removed.append(doc_id)
        else:
            kept.append(doc_id)  # indexed from a folder not scanned this time
    if not new_docs and not kept:
        raise CorpusError("no documents to index: give folders or files with .txt, .md, .html or .jsonl articles")
    return report, new_docs, kept


@dataclass
class StageTimes:
    """Seconds each stage of `tag_and_encode` took; the two overlap, so `wall_s` is less than their sum."""

    tag_s: float = 0.0
    encode_s: float = 0.0
    wall_s: float = 0.0


def tag_and_encode(
    passages: list[Passage],
    todo: list[int],
    texts: list[str],
    vectors: np.ndarray,
    tagger: SpanTagger,
    encoder: Encoder,
    progress: Callable[[int, int], None] | None,
) -> StageTimes:
    """Tag and encode the passages at `todo` (embedding `texts`, one per todo) in place, concurrently.

    Progress is in passages, out of all of them: a reused one counts as done, a new one half when
    tagged and half when encoded, so the rate a progress bar derives from it is passages/s.
    """
    total, reused = len(passages), len(passages) - len(todo)
    times = StageTimes()
    if progress:
        progress(reused, total)
    if not todo:
        return times
    lock = threading.Lock()
    halves = 0  # passages tagged + passages encoded
    stop, failed = threading.Event(), threading.Event()

    def step(n: int) -> None:
        nonlocal halves
        with lock:
            halves += n
            if progress:
                progress(reused + halves // 2, total)

    def tag() -> None:
        began = time.perf_counter()
        items = ((passages[i].text, passages[i].start) for i in todo)
        try:
            for i, spans in zip(todo, tagger.stream(items, len(todo)), strict=True):
                if stop.is_set():
                    return
                passages[i].spans = spans
                step(1)
        except BaseException:
            failed.set()
            raise
        times.tag_s = time.perf_counter() - began

    def encoded(n: int) -> None:
        if failed.is_set():
            tagging.result()  # raises the tagger's error here, which stops the encoder too
        step(n)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-tagger") as pool:
        tagging = pool.submit(tag)
        try:
            with unavailable_on(EncoderError):
                vectors[todo] = encoder.encode(texts, progress=encoded)
        except BaseException:
            stop.set()  # the encoder failed or was interrupted: tag no more of what will not be stored
            raise
        times.encode_s = time.perf_counter() - began
        tagging.result()  # re-raises what the tagger raised
    times.wall_s = time.perf_counter() - began
    return times


def indexed_text(passage: Passage, doc: Document) -> str:
    """What is embedded and BM25-indexed: the passage under its document's title.

    The title says what the whole story is about, which a passage in the middle often doesn't.
    Offsets and citations still refer to the passage text alone.
    """
    if doc.title and not doc.text.startswith(doc.title.rstrip("…")):
        return f"{doc.title}\n{passage.text}"
    return passage.text


def check_compatible(manifest: dict, location: Path | str, model: str, backend: str) -> None:
    """Refuse an index (snapshot manifest or database state row) built with another model or runtime."""
    wanted_model = canonical_model_name(model)
    if manifest.get("model") != wanted_model or manifest.get("backend") != backend:
        raise StoreError(
            f"the index in {location} was built with model {manifest.get('model')!r} ({manifest.get('backend')} backend), "
            f"but {wanted_model!r} ({backend} backend) is configured: set QA_MODEL/QA_BACKEND to match, "
            "or rebuild with `qa index --rebuild PATH`"
        )
