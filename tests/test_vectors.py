"""The vector index picks exact or approximate search by size, and the approximate one is tuned."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from helpers import CACHE_DIR, run_qa

from embeddings.encoder import load_encoder
from qa.ingest.chunking import Passage
from qa.ingest.sources import Document
from qa.stores.local import vectors as vectors_module
from qa.stores.local.index import load_index, write_snapshot
from qa.stores.local.snapshots import Snapshots
from qa.stores.local.vectors import RowFilter, VectorIndex, exact_top_k, probe_queries, recall_at_k


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


class RecordingIndex:
    """A FAISS index that notes FAISS's thread count whenever it is searched."""

    def __init__(self, index, seen: list[int]) -> None:
        self.index, self.seen = index, seen

    def search(self, *args, **kwargs):
        self.seen.append(faiss.omp_get_max_threads())
        return self.index.search(*args, **kwargs)


def test_a_single_query_runs_on_one_thread_and_finds_what_the_batch_finds(monkeypatch):
    """One query is searched on the calling thread alone (`one_thread`), flat or IVF, with the same
    result as in a batch, and the thread count FAISS had is back afterwards, also when the block raises."""
    vectors = clustered(3000)
    queries = probe_queries(vectors, 5)
    knn = faiss.knn
    flat_seen: list[int] = []
    ivf_seen: list[int] = []

    def recording_knn(*args, **kwargs):
        flat_seen.append(faiss.omp_get_max_threads())
        return knn(*args, **kwargs)

    monkeypatch.setattr(vectors_module.faiss, "knn", recording_knn)
    flat, ivf = VectorIndex.build(vectors, ann_threshold=10_000), VectorIndex.build(vectors, ann_threshold=1000)
    ivf.ann = RecordingIndex(ivf.ann, ivf_seen)  # type: ignore[assignment]
    outside = faiss.omp_get_max_threads()  # 1 under xdist (conftest): ask for two, so the switch shows
    faiss.omp_set_num_threads(2)
    try:
        for index in (flat, ivf):
            batch = index.search_batch(queries, 10)
            for row, query in enumerate(queries):
                assert set(index.search(query, 10)[1]) == set(batch[row])
                assert faiss.omp_get_max_threads() == 2
        assert flat_seen == ivf_seen == [2] + [1] * len(queries)  # the batch, then each query alone
        with pytest.raises(ZeroDivisionError), vectors_module.one_thread():
            _ = 1 / 0
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(outside)


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


def test_duplicate_passages_do_not_push_the_tuner_to_scan_every_list():
    """Exact search and IVF break ties between copies of one vector differently, so recall by id stops short of the
    target on an archive with duplicates however many lists are read; counted by score (`recall_at_k`) it is reached."""
    distinct = clustered(4000)
    vectors = np.concatenate([distinct, distinct, distinct])  # every passage three times
    index = VectorIndex.build(vectors, ann_threshold=5_000)
    assert index.ann is not None
    ivf = faiss.extract_index_ivf(index.ann)
    assert ivf.nprobe <= ivf.nlist // 4  # before ties were counted: nprobe = nlist, every list on every query
    queries = probe_queries(vectors, 100, seed=42)
    truth = exact_top_k(vectors, queries, 10)
    assert recall_at_k(vectors, queries, truth, index.search_batch(queries, 10)) >= 0.95
    ivf.nprobe = ivf.nlist  # every list: every neighbour's score is found, yet by id some are the other copies
    assert recall_at_k(vectors, queries, truth, index.search_batch(queries, 10)) == 1.0
    assert recall_at_10(index, vectors, queries) < 0.99  # 0.93 when written


def test_filtered_search_on_an_ivf_index_scans_only_rows_in_the_filter(monkeypatch):
    """Above the exact cut-off a filtered search goes through the IVF index with a selector: only rows in the
    filter come back, k of them, scored exactly, the best in the filter as exact search over its rows finds them;
    a scan whose probed lists hold too few rows in the filter falls back to exact, so k still come back."""
    vectors = clustered(8000)
    index = VectorIndex.build(vectors, ann_threshold=5_000)
    assert index.ann is not None
    monkeypatch.setattr(vectors_module, "FILTER_EXACT_ROWS", 0)  # this index is small: exact would serve every filter
    exact_calls: list[int] = []
    search_rows = index.search_rows

    def counted(query: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        exact_calls.append(len(rows))
        return search_rows(query, k, rows)

    monkeypatch.setattr(index, "search_rows", counted)
    days = np.random.default_rng(3).integers(0, 1000, len(vectors))
    queries = probe_queries(vectors, 50, seed=42)
    for share in (0.5, 0.1):  # 4,000 and 800 rows in the filter
        within = RowFilter(days < 1000 * share)
        found = np.full((len(queries), 10), -1)
        truth = np.zeros((len(queries), 10), dtype=np.int64)
        for i, query in enumerate(queries):
            scores, ids = index.search_filtered(query, 10, within)
            assert len(ids) == 10 and within.mask[ids].all()
            assert np.allclose(scores, vectors[ids] @ query) and list(scores) == sorted(scores, reverse=True)
            found[i] = ids
            truth[i] = search_rows(query, 10, within.rows)[1]
        assert not exact_calls  # every one through the IVF index
        assert recall_at_k(vectors, queries, truth, found) >= 0.95  # 1.0 for both when written

    # Rows of the lists farthest from the query only: the lists it probes hold none of them.
    ivf = faiss.extract_index_ivf(index.ann)
    query = queries[0]
    _, lists = ivf.quantizer.search(vectors, 1)
    farthest = np.argsort(ivf.quantizer.reconstruct_n(0, ivf.nlist) @ query)  # lists by centroid, farthest first
    sizes = np.bincount(lists[:, 0], minlength=ivf.nlist)
    far_lists = farthest[: np.searchsorted(np.cumsum(sizes[farthest]), 300) + 1]  # the fewest that hold 300 rows
    mask = np.isin(lists[:, 0], far_lists)
    within = RowFilter(mask)  # ~300 rows in a few lists: nprobe is raised to ~nlist * 40 / 300, the nearest lists
    monkeypatch.setattr(vectors_module, "FILTER_SCAN_PER_ROW", 10**9)  # let the scan try
    scores, ids = index.search_filtered(query, 10, within)
    assert exact_calls  # the scan came back short: exact over the rows answered
    assert len(ids) == 10 and mask[ids].all()
    assert ids.tolist() == search_rows(query, 10, within.rows)[1].tolist()
    assert len(index.search_filtered(query, 5000, within)[1]) == len(within) < 5000  # all of them when fewer than k
    assert len(index.search_filtered(query, 10, RowFilter(np.zeros(len(vectors), dtype=bool)))[1]) == 0


def test_a_small_filter_is_searched_exactly_even_with_an_ivf_index():
    vectors = clustered(8000)
    index = VectorIndex.build(vectors, ann_threshold=5_000)
    assert index.ann is not None
    rows = np.arange(5, 8000, 7)  # 1,142 rows: under FILTER_EXACT_ROWS
    mask = np.zeros(len(vectors), dtype=bool)
    mask[rows] = True
    query = probe_queries(vectors, 1, seed=9)[0]
    scores, ids = index.search_filtered(query, 20, RowFilter(mask))
    best = rows[np.argsort(-(vectors[rows] @ query))[:20]]
    assert ids.tolist() == best.tolist() and np.allclose(scores, vectors[ids] @ query)


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


def test_recall_of_a_query_with_fewer_true_neighbours_than_k():
    """A date range holding 3 passages: 3 found of 3 is full recall; 1 of 3 is a third; the padding counts for nothing."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    query = vectors[:1] + 0.01
    in_range = np.array([0, 4, 9])
    order = in_range[np.argsort(-(vectors[in_range] @ query[0]))]
    truth = np.full((1, 10), -1)
    truth[0, :3] = order
    found = np.full((1, 10), -1)
    found[0, :3] = order[::-1]
    assert recall_at_k(vectors, query, truth, found) == 1.0
    assert recall_at_k(vectors, query, truth, np.array([[order[0]] + [-1] * 9])) == pytest.approx(1 / 3)
    outside = np.setdiff1d(np.arange(20), in_range)
    worst = outside[np.argmin(vectors[outside] @ query[0])]
    assert recall_at_k(vectors, query, truth, np.array([[worst] + [-1] * 9])) == 0.0
