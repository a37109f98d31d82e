"""The FAISS side of an index snapshot: exact search while small, IVF-SQ8 once large.

Below `ann_threshold` passages an exact inner-product index (FAISS `IndexFlatIP`) is both the
fastest to build and fast enough to search. Above it, an inverted-file index with 8-bit scalar
quantisation (`IVF{nlist},SQ8`, ~1/4 of the float memory) is trained on a sample, and `nprobe` is
tuned on probe queries until recall@10 against exact search reaches `TARGET_RECALL`, then doubled.
Candidates from the IVF index are re-scored exactly from the float vectors, which stay on disk
and are memory-mapped, so only the pages a query touches are read.
"""

from __future__ import annotations

import json
import math
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


class VectorIndex:
    FILE = "vectors.npy"
    ANN_FILE = "vectors.ivf"

    def __init__(self, vectors: np.ndarray, ann: faiss.Index | None = None, params: dict | None = None) -> None:
        self.vectors = vectors  # float32, L2-normalised; may be a read-only memory map
        self.ann = ann
        self.params = params or {"kind": "flat"}
        if ann is None:
            n, dim = vectors.shape
            self.flat = faiss.IndexFlatIP(dim)
            if n:
                self.flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
                # Read vectors back from FAISS's own storage rather than keep a second copy.
                self.vectors = faiss.rev_swig_ptr(self.flat.get_xb(), n * dim).reshape(n, dim)
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
        """Twice the smallest nprobe whose recall@10 on probe queries reaches TARGET_RECALL."""
        queries = probe_queries(self.vectors, n_queries, seed=1)
        truth = exact_top_k(self.vectors, queries, 10)
        ivf = faiss.extract_index_ivf(self.ann)  # type: ignore[arg-type]  # tune() is only called with an ANN index
        for nprobe in [step for step in NPROBE_STEPS if step < ivf.nlist] + [ivf.nlist]:  # nlist: every list
            ivf.nprobe = nprobe
            found = self.search_batch(queries, 10)
            recall = float(np.mean([len(set(found[i]) & set(truth[i])) / 10 for i in range(len(queries))]))
            self.params.update(probe_nprobe=nprobe, probe_recall_at_10=round(recall, 4))
            if recall >= TARGET_RECALL:
                break
        self.params["nprobe"] = min(ivf.nlist, self.params["probe_nprobe"] * NPROBE_MARGIN)
        ivf.nprobe = self.params["nprobe"]

    def search_batch(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Top-k ids for each query (-1 padded)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.ann is None:
            return self.flat.search(queries, min(k, len(self)))[1]
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
