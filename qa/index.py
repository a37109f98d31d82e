"""Build and load the searchable index: documents, passages, FAISS vectors and BM25.

`build_index` turns documents into a new snapshot in the `IndexStore`; `load_index` opens the
live snapshot and refuses one built with another model or encoder runtime than configured.
Passage vectors of an earlier snapshot are reused when the passage text is unchanged, so
re-indexing a folder only encodes what is new.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np

from embeddings.encoder import Encoder, canonical_model_name
from embeddings.store import IndexStore, IndexStoreError, Snapshot, VectorIndex
from qa.chunking import Passage, chunk_document
from qa.corpus import CorpusError, Document
from qa.text import terms_batch

DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
TERMS = "terms.json"
BM25_DIR = "bm25"


@dataclass
class Index:
    snapshot: Snapshot
    documents: dict[str, Document]
    passages: list[Passage]
    vectors: VectorIndex
    bm25: bm25s.BM25
    doc_freq: dict[str, int]

    @property
    def version(self) -> str:
        return self.snapshot.version

    @property
    def manifest(self) -> dict:
        return self.snapshot.manifest


@dataclass
class BuildReport:
    documents: int = 0
    passages: int = 0
    encoded: int = 0  # passages that needed the encoder (the rest came from the previous snapshot)
    skipped_duplicates: list[str] = field(default_factory=list)
    version: str = ""


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _previous_vectors(store: IndexStore, encoder: Encoder) -> dict[str, np.ndarray]:
    """Vectors of the live snapshot keyed by passage text, if it was made by the same encoder."""
    try:
        index = load_index(store, encoder.model_name, encoder.backend)
    except IndexStoreError:
        return {}
    return {_text_key(p.text): index.vectors.vectors[i] for i, p in enumerate(index.passages)}


def build_index(
    documents: Iterable[Document],
    encoder: Encoder,
    store: IndexStore,
    max_chars: int,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Chunk, embed and write a complete new snapshot; the old one stays live until it is done."""
    report = BuildReport()
    docs: dict[str, Document] = {}
    for doc in documents:
        if doc.doc_id in docs:
            report.skipped_duplicates.append(doc.doc_id)
            continue
        docs[doc.doc_id] = doc
    if not docs:
        raise CorpusError("no documents to index: give folders or files with .txt, .md, .html or .jsonl articles")

    passages = [p for doc in docs.values() for p in chunk_document(doc.doc_id, doc.text, max_chars)]
    known = _previous_vectors(store, encoder)
    vectors = np.zeros((len(passages), encoder.dim), dtype=np.float32)
    todo = []
    for i, passage in enumerate(passages):
        cached = known.get(_text_key(passage.text))
        if cached is not None:
            vectors[i] = cached
        else:
            todo.append(i)
    if progress:
        progress(len(passages) - len(todo), len(passages))
    if todo:
        done = len(passages) - len(todo)

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, len(passages))

        vectors[todo] = encoder.encode([passages[i].text for i in todo], progress=step)
    report.encoded = len(todo)

    tokens = terms_batch([p.text for p in passages])
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    doc_freq = Counter(t for toks in tokens for t in set(toks))

    tmp = store.new_snapshot_dir()
    with open(tmp / DOCUMENTS, "w", encoding="utf-8") as fh:
        for doc in docs.values():
            fh.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
    with open(tmp / PASSAGES, "w", encoding="utf-8") as fh:
        for p in passages:
            fh.write(json.dumps({"id": p.id, "doc_id": p.doc_id, "start": p.start, "end": p.end, "sentences": p.sentences}) + "\n")
    (tmp / TERMS).write_text(json.dumps(doc_freq))
    VectorIndex(vectors).save(tmp)
    bm25.save(str(tmp / BM25_DIR))
    manifest = {
        "model": encoder.model_name,
        "backend": encoder.backend,
        "dim": encoder.dim,
        "documents": len(docs),
        "passages": len(passages),
        "max_passage_chars": max_chars,
    }
    snapshot = store.publish(tmp, manifest)
    report.documents, report.passages, report.version = len(docs), len(passages), snapshot.version
    return report


def check_compatible(manifest: dict, path: Path, model: str, backend: str) -> None:
    wanted_model = canonical_model_name(model)
    if manifest.get("model") != wanted_model or manifest.get("backend") != backend:
        raise IndexStoreError(
            f"the index in {path} was built with model {manifest.get('model')!r} ({manifest.get('backend')} backend), "
            f"but {wanted_model!r} ({backend} backend) is configured: set QA_MODEL/QA_BACKEND to match, "
            "or rebuild with `qa index --rebuild PATH`"
        )


def load_index(store: IndexStore, model: str, backend: str) -> Index:
    snapshot = store.current()
    check_compatible(snapshot.manifest, snapshot.path, model, backend)
    path = snapshot.path
    try:
        documents = {}
        with open(path / DOCUMENTS, encoding="utf-8") as fh:
            for line in fh:
                doc = Document(**json.loads(line))
                documents[doc.doc_id] = doc
        passages = []
        with open(path / PASSAGES, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                text = documents[row["doc_id"]].text[row["start"] : row["end"]]
                passages.append(Passage(row["id"], row["doc_id"], row["start"], row["end"], text, [tuple(s) for s in row["sentences"]]))
        doc_freq = json.loads((path / TERMS).read_text())
        bm25 = bm25s.BM25.load(str(path / BM25_DIR))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexStoreError(f"the index in {path} is damaged ({exc}): rebuild with `qa index --rebuild PATH`") from exc
    vectors = VectorIndex.load(path)
    if len(vectors) != len(passages):
        raise IndexStoreError(f"{path} holds {len(vectors)} vectors for {len(passages)} passages: rebuild with `qa index --rebuild PATH`")
    return Index(snapshot, documents, passages, vectors, bm25, doc_freq)
