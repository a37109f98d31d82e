"""The FAISS side of an index snapshot: exact search while small, IVF-SQ8 once large.

Below `ann_threshold` passages an exact inner-product search (FAISS's `knn_inner_product`, the
search `IndexFlatIP` runs) over the float vectors where they lie is both the fastest to build and
fast enough: loaded from a snapshot they are a read-only memory map, so every process serving one
index (`qa serve --workers N`) shares one copy in the OS page cache. Above it, an inverted-file index with 8-bit scalar
quantisation (`IVF{nlist},SQ8`, ~1/4 of the float memory) is trained on a sample, and `nprobe` is
tuned on probe queries until recall@10 against exact search reaches `TARGET_RECALL`, then doubled.
Candidates from the IVF index are re-scored exactly from the float vectors, which stay on disk
and are memory-mapped, so only the pages a query touches are read.

A filtered search (a date range: `RowFilter`, `VectorIndex.search_filtered`) returns the best rows
in the filter, never the best overall with the others dropped: exactly over the rows when they are
few or the index is flat, else through the IVF index with a FAISS selector, so the scan scores only
rows in the filter, falling back to exact when the probed lists hold too few of them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from qa.errors import StoreError

DEFAULT_ANN_THRESHOLD = 50_000  # exact single-query search costs ~7 ms here, ~14 ms at 100k
# Probe queries overstate recall a little (by up to 0.05 for real SQuAD questions at 10k-1M
# passages, bench/scale.py), so tuning aims high and then doubles nprobe for a margin.
TARGET_RECALL = 0.99
NPROBE_MARGIN = 2
NPROBE_STEPS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
RERANK_FACTOR = 4
# A filtered search (`VectorIndex.search_filtered`) is exact over the filter's rows or an IVF scan
# restricted to them, whichever costs less. Measured (bench/store_bench.py filtered; 100k and 1M
# passages): exact costs ~0.43 µs a row, reading its floats from the memory map (0.8 ms for 2,000
# rows, 5 ms for 10,000); the IVF scan ~0.5 ms for the coarse quantiser plus ~20 ns a code in the
# lists it probes (0.7 ms at 100k and 1.3-2.6 ms at 1M for 2,000-10,000 rows in range), and it
# needs more lists the fewer rows are in range (nprobe is raised so they hold enough of them).
# So: exact up to FILTER_EXACT_ROWS rows (the quantiser alone costs as much), and above it while the
# probed lists would hold over FILTER_SCAN_PER_ROW codes for each row in range (for the retriever's
# pool of 50, up to √(10·n) rows of n passages: ~3,200 at 1M, ~10,000 at 10M).
FILTER_EXACT_ROWS = 2048
FILTER_SCAN_PER_ROW = 20


@contextmanager
def one_thread() -> Iterator[None]:
    """FAISS on the calling thread alone for the block (OpenMP's thread count is per thread).

    A single query's exact search (`faiss.knn`) ran slower on FAISS's two OpenMP threads than on
    one at every size measured here, quiet or busy: p50/p95 5.8/18.6 ms against 4.7/5.3 ms on the
    24,610 news passages (quiet), 23/70 against 18/19 ms at 100k, 181/255 against 71/132 ms at
    400k; under load the two threads wait out each other's time slices. Batches of queries keep
    FAISS's threads, which split the queries between them.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 262_144) -> np.ndarray:
    """Exact top-k ids by inner product, in blocks to bound memory."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ np.asarray(vectors[start : start + block]).T
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate(
            [best_ids, np.arange(start, start + scores.shape[1])[None, :].repeat(len(queries), 0)], axis=1
        )
        top = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, 1)
        best_ids = np.take_along_axis(merged_ids, top, 1)
    order = np.argsort(-best_scores, axis=1)
    return np.take_along_axis(best_ids, order, 1)


def probe_queries(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Stand-in queries for tuning: each the normalised sum of three random stored vectors.

    Real questions sit between topics, far from any one passage (top cosine ~0.55 on SQuAD);
    such mixtures do too, and on a 100k-passage benchmark their IVF recall tracked real
    questions' within 0.01 at every nprobe, where noisy copies of stored vectors overstated it.
    """
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(vectors), size=(n, 3))
    mixed = np.asarray(vectors[picks.ravel()]).reshape(n, 3, -1).sum(axis=1)
    return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)


def recall_at_k(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, found: np.ndarray) -> float:
    """Recall of `found` ids against exact top-k `truth`, counting ties: a found passage scoring at
    least the k-th exact score is a true neighbour, whichever of equal-scoring duplicates it is.

    Compared by id alone, an archive with duplicate passages (syndicated stories, boilerplate,
    re-posted articles) never reaches full recall, because exact search and IVF break ties
    differently: with a third of 100k synthetic passages duplicated, recall by id stopped at 0.965
    even scanning every list, and the tuner chose nprobe = nlist (bench/store_bench.py latency).
    A query with fewer than k true neighbours (a date filter's range holding fewer passages) has
    -1 in the rest of its `truth` row and is judged on the neighbours it has.
    """

    def scores(ids: np.ndarray) -> np.ndarray:
        rows = np.asarray(vectors[np.where(ids >= 0, ids, 0).ravel()]).reshape(*ids.shape, -1)
        return np.einsum("qd,qkd->qk", queries, rows)

    known = truth >= 0
    kth = np.where(known, scores(truth), np.inf).min(axis=1, keepdims=True)
    hits = (found >= 0) & (scores(found) >= kth - 1e-6)
    return float(np.minimum(hits.sum(axis=1), known.sum(axis=1)).sum() / max(1, known.sum()))


class RowFilter:
    """The rows a filter (a date range) lets through, in the forms each search wants, each built once.

    `mask` is one bool a row; `rows` (for exact search) and `selector` (a FAISS `IDSelectorBitmap`
    for the IVF scan) are made the first time a search needs them and kept with the filter, so a
    caller that keeps the filter (`Index.row_filter`) pays for them once per range.
    """

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = np.ascontiguousarray(mask, dtype=bool)
        self.count = int(np.count_nonzero(self.mask))

    def __len__(self) -> int:
        return self.count

    @cached_property
    def rows(self) -> np.ndarray:
        """The rows in the filter, ascending."""
        return np.flatnonzero(self.mask)

    @cached_property
    def _bitmap_selector(self) -> tuple[np.ndarray, faiss.IDSelector]:
        # One value, so the selector never outlives the bitmap it points into (FAISS holds a raw
        # pointer) even if two threads build it at once. Bit i of byte i >> 3 is row i.
        bitmap = np.packbits(self.mask, bitorder="little")
        return bitmap, faiss.IDSelectorBitmap(len(self.mask), faiss.swig_ptr(bitmap))

    @property
    def selector(self) -> faiss.IDSelector:
        return self._bitmap_selector[1]


class VectorIndex:
    FILE = "vectors.npy"
    ANN_FILE = "vectors.ivf"

    def __init__(self, vectors: np.ndarray, ann: faiss.Index | None = None, params: dict | None = None) -> None:
        self.vectors = vectors  # float32, L2-normalised; may be a read-only memory map
        self.ann = ann
        self.params = params or {"kind": "flat"}
        if ann is None:
            # Searched where they are (no copy into an IndexFlatIP): a memory map stays one.
            self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        else:
            faiss.extract_index_ivf(ann).nprobe = int(self.params["nprobe"])

    def __len__(self) -> int:
        return len(self.vectors)

    @classmethod
    def build(cls, vectors: np.ndarray, ann_threshold: int = DEFAULT_ANN_THRESHOLD) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) < max(ann_threshold, 1000):
            return cls(vectors)
        n, dim = vectors.shape
        nlist = 2 ** round(math.log2(4 * math.sqrt(n)))  # ~4·sqrt(n) lists, a power of two
        while nlist * 39 > n:  # FAISS wants at least 39 training points per list
            nlist //= 2
        ann = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
        faiss.extract_index_ivf(ann).cp.niter = 10  # k-means converges well enough for routing
        rng = np.random.default_rng(0)
        train = vectors[np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))]
        ann.train(train)
        ann.add(vectors)
        index = cls(vectors, ann, {"kind": "ivf-sq8", "nlist": nlist, "nprobe": NPROBE_STEPS[-1]})
        index.tune()
        return index

    def tune(self, n_queries: int = 300) -> None:
        """Twice the smallest nprobe whose recall@10 (`recall_at_k`, ties counted) on probe queries reaches TARGET_RECALL."""
        queries = probe_queries(self.vectors, n_queries, seed=1)
        truth = exact_top_k(self.vectors, queries, 10)
        ivf = faiss.extract_index_ivf(self.ann)  # type: ignore[arg-type]  # tune() is only called with an ANN index
        for nprobe in [step for step in NPROBE_STEPS if step < ivf.nlist] + [ivf.nlist]:  # nlist: every list
            ivf.nprobe = nprobe
            recall = recall_at_k(self.vectors, queries, truth, self.search_batch(queries, 10))
            self.params.update(probe_nprobe=nprobe, probe_recall_at_10=round(recall, 4))
            if recall >= TARGET_RECALL:
                break
        self.params["nprobe"] = min(ivf.nlist, self.params["probe_nprobe"] * NPROBE_MARGIN)
        ivf.nprobe = self.params["nprobe"]

    def search_batch(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Top-k ids for each query (-1 padded)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        with one_thread() if len(queries) == 1 else nullcontext():
            if self.ann is None:  # exactly what IndexFlatIP.search computes, without holding a copy
                return faiss.knn(queries, self.vectors, min(k, len(self)), metric=faiss.METRIC_INNER_PRODUCT)[1]
            _, candidates = self.ann.search(queries, k * RERANK_FACTOR)
        out = np.full((len(queries), k), -1, dtype=np.int64)
        for row, ids in enumerate(candidates):
            ids = np.sort(ids[ids >= 0])  # sorted reads are kinder to a memory map
            exact = np.asarray(self.vectors[ids]) @ queries[row]
            top = ids[np.argsort(-exact)[:k]]
            out[row, : len(top)] = top
        return out

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest passages."""
        k = min(k, len(self))
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        ids = self.search_batch(query.reshape(1, -1), k)[0]
        ids = ids[ids >= 0]
        return np.asarray(self.vectors[ids]) @ query, ids

    def search_rows(self, query: np.ndarray, k: int, rows: np.ndarray, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest passages among `rows` only, by exact inner product.

        A date filter's exact search (`search_filtered`): the float vectors of those rows, read in
        blocks. Small blocks keep each matrix-vector product on one thread: OpenBLAS splits one of
        over ~1,500 rows across threads, and on a busy machine the call then waits out the other
        threads' time slices (8 ms for 2,000 rows here, against 0.2 ms in blocks of 1,024).
        """
        k = min(k, len(rows))
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        query = np.asarray(query, dtype=np.float32)
        scores = np.concatenate(
            [np.asarray(self.vectors[rows[start : start + block]]) @ query for start in range(0, len(rows), block)]
        )
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top], rows[top].astype(np.int64)

    def search_filtered(self, query: np.ndarray, k: int, within: RowFilter) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest passages among the rows of `within` (k whenever it holds k).

        The IVF index is searched with `within.selector`, so its scan only returns rows in the
        filter, and its candidates are re-scored exactly as unfiltered ones are. `nprobe` is the
        tuned one, raised for a selective filter until the probed lists hold, on average,
        `RERANK_FACTOR * k` rows in the filter (a list holds `len(within) / nlist` of them). If the
        scan still finds fewer than k, the exact search over the rows (`search_rows`) answers
        instead; it answers from the start for a flat index, and where it costs less than the scan
        (`FILTER_EXACT_ROWS`, `FILTER_SCAN_PER_ROW`).
        """
        k = min(k, len(within))
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self.ann is None or len(within) <= FILTER_EXACT_ROWS:
            return self.search_rows(query, k, within.rows)
        ivf = faiss.extract_index_ivf(self.ann)
        nprobe = min(ivf.nlist, max(ivf.nprobe, math.ceil(ivf.nlist * RERANK_FACTOR * k / len(within))))
        if len(self) * nprobe / ivf.nlist > FILTER_SCAN_PER_ROW * len(within):
            return self.search_rows(query, k, within.rows)
        query = np.ascontiguousarray(query, dtype=np.float32)
        params = faiss.SearchParametersIVF()  # per call: the index's own nprobe stays as tuned
        params.sel, params.nprobe = within.selector, nprobe  # `within` keeps the selector alive
        with one_thread():
            _, candidates = self.ann.search(query.reshape(1, -1), k * RERANK_FACTOR, params=params)
        ids = np.sort(candidates[0][candidates[0] >= 0])
        if len(ids) < k:
            return self.search_rows(query, k, within.rows)
        exact = np.asarray(self.vectors[ids]) @ query
        top = np.argsort(-exact, kind="stable")[:k]
        return exact[top], ids[top]

    def save(self, folder: Path) -> None:
        np.save(folder / self.FILE, self.vectors)
        if self.ann is not None:
            faiss.write_index(self.ann, str(folder / self.ANN_FILE))
            (folder / "vectors.json").write_text(json.dumps(self.params))

    @classmethod
    def load(cls, folder: Path) -> VectorIndex:
        try:
            vectors = np.load(folder / cls.FILE, mmap_mode="r", allow_pickle=False)
            if vectors.ndim != 2 or vectors.dtype != np.float32:
                raise ValueError(f"expected a 2-D float32 array, found {vectors.dtype} {vectors.shape}")
        except (OSError, ValueError) as exc:
            raise StoreError(f"{folder / cls.FILE} is damaged ({exc}): rebuild with `qa index --rebuild PATH`") from exc
        if not (folder / cls.ANN_FILE).exists():
            return cls(np.ascontiguousarray(vectors))
        try:
            ann = faiss.read_index(str(folder / cls.ANN_FILE))
            params = json.loads((folder / "vectors.json").read_text())
        except (RuntimeError, OSError, ValueError) as exc:
            raise StoreError(f"{folder / cls.ANN_FILE} is damaged ({exc}): rebuild with `qa index --rebuild PATH`") from exc
        return cls(vectors, ann, params)
