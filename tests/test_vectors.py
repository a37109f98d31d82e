"""The vector index picks exact or approximate search by size, and the approximate one is tuned."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from helpers import CACHE_DIR, run_qa

from embeddings.encoder import load_encoder
from qa.ingest.chunking import Passage
from qa.ingest.sources import Document
from qa.stores.local.index import load_index, write_snapshot
from qa.stores.local.snapshots import Snapshots
from qa.stores.local.vectors import VectorIndex, exact_top_k, probe_queries


def clustered(n: int, dim: int = 64, centers: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centers, dim))
    points = middle[rng.integers(0, centers, n)] + rng.normal(scale=0.35, size=(n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def recall_at_10(index: VectorIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    """The share of each query's 10 exact nearest neighbours that the index returns, averaged."""
    found, truth = index.search_batch(queries, 10), exact_top_k(vectors, queries, 10)
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


def test_small_index_is_exact():
    vectors = clustered(2000)
    index = VectorIndex.build(vectors, ann_threshold=10_000)
    assert index.params == {"kind": "flat"}
    queries = probe_queries(vectors, 20)
    assert (index.search_batch(queries, 10) == exact_top_k(vectors, queries, 10)).all()


def test_large_index_reads_few_of_its_lists_and_still_finds_the_exact_neighbours():
    vectors = clustered(12_000)
    index = VectorIndex.build(vectors, ann_threshold=5_000)
    assert index.ann is not None
    ivf = faiss.extract_index_ivf(index.ann)
    assert ivf.nprobe <= ivf.nlist // 4  # approximate: a query reads a quarter of the lists or fewer
    queries = probe_queries(vectors, 100, seed=42)  # other queries than the ones it was tuned on
    assert recall_at_10(index, vectors, queries) >= 0.95
    ivf.nprobe = 1  # untuned, the same index misses most neighbours (0.37 when written): the recall above is the tuning's
    assert recall_at_10(index, vectors, queries) < 0.8
    ivf.nprobe = int(index.params["nprobe"])
    scores, ids = index.search(queries[0], 5)
    assert np.allclose(scores, vectors[ids] @ queries[0]) and list(scores) == sorted(scores, reverse=True)


def test_approximate_index_round_trips_through_a_snapshot(tmp_path):
    vectors = clustered(3000, dim=384)
    docs = {f"d{i}": Document(doc_id=f"d{i}", text=f"Story number {i} says a thing.", title=f"Story {i}") for i in range(3000)}
    passages = [
        Passage(f"d{i}:0", f"d{i}", 0, len(docs[f"d{i}"].text), docs[f"d{i}"].text, [(0, len(docs[f"d{i}"].text))])
        for i in range(3000)
    ]
    model = "sentence-transformers/all-MiniLM-L6-v2"
    store = Snapshots(tmp_path)
    write_snapshot(store, docs, passages, vectors, {"model": model, "backend": "onnx", "dim": 384}, 600, ann_threshold=1000)
    index = load_index(store, model, "onnx")
    assert index.manifest["vector_index"]["kind"] == "ivf-sq8"
    assert index.vectors.ann is not None and len(index.vectors) == 3000
    _, ids = index.vectors.search(vectors[123], 1)
    assert ids[0] == 123


def test_int8_backend_is_close_to_fp32():
    fp32 = load_encoder("sentence-transformers/all-MiniLM-L6-v2", "onnx", CACHE_DIR)
    int8 = load_encoder("sentence-transformers/all-MiniLM-L6-v2", "onnx-int8", CACHE_DIR)
    texts = [
        "When did Iran host Shoigu?",
        "Kirby highlighted a September meeting in which Iran hosted Shoigu.",
        "The harbour bridge will close on Friday for repairs.",
    ]
    agreement = (fp32.encode(texts) * int8.encode(texts)).sum(axis=1)
    assert agreement.min() > 0.97
    assert int8.backend == "onnx-int8"


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_an_index_refuses_another_backend(index_dir, backend):
    result = run_qa("ask", "When did Iran host Shoigu?", "--index-dir", str(index_dir), "--backend", backend)
    assert result.returncode == 1 and "built with model" in result.stderr and backend in result.stderr
