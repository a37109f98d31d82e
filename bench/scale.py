"""Index scale benchmark: build time, memory, query latency and ANN recall at 10k, 100k and 1M passages.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--queries 200] [--pool 6000]

Passages are synthesised by recombining three sentences of one source text (a SQuAD article or
a SciFact abstract) from ../shared/bench, so the archive clusters by topic as news does;
`--mix` draws the three from anywhere instead, a structureless worst case for the IVF index.
Vectors are made without the encoder, so the benchmark measures the index rather than the model:
the sentence pool is encoded once, and a passage's vector is the normalised sum of its sentences'
vectors plus a little noise. Queries are real SQuAD questions,
encoded. For each size it prints: approximate-index (IVF-SQ8) build time and tuned nprobe, BM25
build time, memory of each structure, p50/p95 latency of exact search, approximate search, BM25
and the full hybrid retriever, and recall@10 of the approximate index against exact search.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import time
from pathlib import Path

import bm25s
import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embeddings.encoder import load_encoder  # noqa: E402
from qa.evaluation.questions import percentile  # noqa: E402
from qa.ingest.chunking import Passage  # noqa: E402
from qa.retrieval import HybridRetriever  # noqa: E402
from qa.stores.local.index import Index  # noqa: E402
from qa.stores.local.vectors import VectorIndex, exact_top_k  # noqa: E402
from qa.text import terms  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"


def sentence_pool(n: int, seed: int) -> tuple[list[str], list[int]]:
    """(sentences, source text of each): SQuAD articles and SciFact abstracts cut into sentences."""
    sources = [
        "\n".join(p["context"] for p in a["paragraphs"])
        for a in json.loads((BENCH / "squad" / "dev-v1.1.json").read_text())["data"]
    ]
    sources += [json.loads(line)["text"] for line in (BENCH / "scifact" / "corpus.jsonl").read_text().splitlines()[:3000]]
    pairs = [(s.strip(), i) for i, t in enumerate(sources) for s in re.split(r"(?<=[.!?])\s+", t) if 40 <= len(s.strip()) <= 300]
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:n]
    return [s for s, _ in pairs], [i for _, i in pairs]


def percentiles(ms: list[float]) -> str:
    return f"{percentile(ms, 0.5):.2f} / {percentile(ms, 0.95):.2f}"


def timed(fn, queries) -> list[float]:
    out = []
    for query in queries:
        started = time.perf_counter()
        fn(query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def bm25_bytes(retriever: bm25s.BM25) -> int:
    return sum(v.nbytes for v in retriever.scores.values() if hasattr(v, "nbytes"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pool", type=int, default=6000, help="distinct sentences encoded")
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mix", action="store_true", help="recombine sentences across sources (no topical structure)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(args.seed)

    encoder = load_encoder("sentence-transformers/all-MiniLM-L6-v2", args.backend, ROOT / ".qa" / "cache")
    pool, source_of = sentence_pool(args.pool, args.seed)
    by_source: dict[int, list[int]] = {}
    for i, source in enumerate(source_of):
        by_source.setdefault(source, []).append(i)
    groups = [np.array(members) for members in by_source.values() if len(members) >= 3]
    started = time.perf_counter()
    pool_vectors = encoder.encode(pool, batch_size=64)
    print(
        f"{'mixed' if args.mix else 'topical'} passages; encoded a pool of {len(pool)} sentences in {time.perf_counter() - started:.1f} s ({args.backend})"
    )
    pool_terms = [terms(s) for s in pool]
    squad = [
        qa["question"]
        for a in json.loads((BENCH / "squad" / "dev-v1.1.json").read_text())["data"]
        for p in a["paragraphs"]
        for qa in p["qas"]
    ]
    questions = random.Random(args.seed).sample(squad, args.queries)
    query_vectors = encoder.encode(questions)

    print()
    print(
        "| passages | IVF build | nprobe | BM25 build | vectors MiB | IVF-SQ8 MiB | BM25 MiB | exact ms p50/p95 | IVF ms p50/p95 | BM25 ms p50/p95 | hybrid ms p50/p95 | recall@10 | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        if args.mix:
            picks = rng.integers(0, len(pool), size=(n, 3))
        else:  # three sentences of one source text, sources weighted by their size
            weights = np.array([len(g) for g in groups], dtype=float)
            chosen = rng.choice(len(groups), size=n, p=weights / weights.sum())
            picks = np.stack([groups[g][rng.integers(0, len(groups[g]), 3)] for g in chosen])
        vectors = pool_vectors[picks].sum(axis=1) + rng.normal(scale=0.05, size=(n, pool_vectors.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors.astype(np.float32)

        started = time.perf_counter()
        ann = VectorIndex.build(vectors, ann_threshold=1000)  # always the approximate structure here
        ann_build = time.perf_counter() - started
        exact = VectorIndex(vectors)

        started = time.perf_counter()
        tokens = [pool_terms[a] + pool_terms[b] + pool_terms[c] for a, b, c in picks]
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        bm25_build = time.perf_counter() - started
        del tokens

        truth = exact_top_k(vectors, query_vectors, 10)
        found = ann.search_batch(query_vectors, 10)
        recall = float(np.mean([len(set(found[i]) & set(truth[i])) / 10 for i in range(len(questions))]))

        passages = [Passage(f"p{i}", f"d{i}", 0, 0, "") for i in range(n)]
        index = Index(snapshot=None, documents={}, passages=passages, vectors=ann, bm25=bm25, passage_freq={})  # type: ignore[arg-type]
        hybrid = HybridRetriever(index, encoder)
        exact_ms = timed(lambda q, exact=exact: exact.search(q, 50), query_vectors)  # each bound to this size's objects (B023)
        ann_ms = timed(lambda q, ann=ann: ann.search(q, 50), query_vectors)
        query_terms = [[t for t in terms(q) if t in bm25.vocab_dict] for q in questions]
        bm25_ms = timed(lambda t, bm25=bm25: np.argpartition(-bm25.get_scores(t), 50)[:50] if t else None, query_terms)
        hybrid_ms = timed(
            lambda i, hybrid=hybrid: hybrid.run(questions[i], 10, query_vector=query_vectors[i]), range(len(questions))
        )

        assert ann.ann is not None  # built past ann_threshold: always the IVF structure
        ivf_bytes = faiss.serialize_index(ann.ann).nbytes
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"| {n:,} | {ann_build:.1f} s | {ann.params['nprobe']}/{ann.params['nlist']} | {bm25_build:.1f} s | "
            f"{vectors.nbytes / 2**20:.0f} | {ivf_bytes / 2**20:.0f} | {bm25_bytes(bm25) / 2**20:.0f} | "
            f"{percentiles(exact_ms)} | {percentiles(ann_ms)} | {percentiles(bm25_ms)} | {percentiles(hybrid_ms)} | "
            f"{recall:.3f} | {peak:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
