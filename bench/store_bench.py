"""The index in PostgreSQL next to the snapshot directory: quality, query latency, incremental updates.

    .venv/bin/python bench/store_bench.py quality [--sample 500] [--seed 13] [--backends local,postgresql] [--url URL]
    .venv/bin/python bench/store_bench.py scale [--passages 100000] [--queries 200] [--changed 100]
                                                [--split known|pysbd] [--backends local,postgresql] [--url URL]
    .venv/bin/python bench/store_bench.py latency [--passages 100000] [--queries 200] [--rebuild] [--nprobe N]
    .venv/bin/python bench/store_bench.py filtered [--passages 100000] [--queries 200] [--fractions 0.001,0.01,0.1,0.5,0.9]
                                                   [--recall-queries 50]

PostgreSQL is the server at `--url` (its index is replaced; `quality` also fills the database of
the URL's name + `_other`, as `bench/quality.py` does). Without it, each run starts a throwaway
PostgreSQL 16 + pgvector with `pgserver` (the test extra: `make install`; a temporary data
directory, a Unix socket, fsync off, `maintenance_work_mem` 4 GB so HNSW of 1M x 384 builds in
memory, `max_wal_size` 16 GB so a bulk load forces no checkpoints) and deletes it after.

`quality`: `bench/quality.py --json` run once with a snapshot directory and once with
`QA_STORE_URL` pointing at the server: SciFact nDCG@10 and SQuAD evaluation-half recall@5 (its
answer figures come along; the table shows retrieval).

`scale`: synthetic passages and vectors as in `bench/scale.py` (three sentences of one source text
each; the vector is the normalised sum of its sentences' encoded vectors plus noise, made by a stand-in
encoder, and no entity tagging), indexed through each store's own `build` (the code `qa index`
runs), one passage per document. Sentence splitting (pysbd, about 2 ms a document here, the same
work for both backends and the largest part of a first `qa index` at this size) is timed once on
its own, on a sample, and the stores are handed the sentence offsets known from how each document
was put together (`--split pysbd`: split for real inside each build). Prints the load time, hybrid retrieval latency p50/p95 (real SQuAD
questions, encoded once; `HybridRetriever.run` as `qa search` runs it), and an incremental build
with `--changed` documents edited (one sentence replaced): wall time and bytes written (the new
snapshot directory; PostgreSQL's WAL, `pg_current_wal_lsn()` before and after). The machine is
shared and noisy: compare the two backends within one run.

`latency`: the snapshot store of `scale`'s synthetic passages, built once into
bench/out/store-latency-N (again with `--rebuild`) and loaded as `qa` loads it. Prints single-query
p50/p95 of the dense search, of BM25 scoring and of the whole `HybridRetriever.run`, and recall@10
of the hybrid result against the same retriever with exact dense search: by passage id, and with
a duplicate passage (same text, so the same scores) counted for its copy; about a third of the
synthetic passages at 100k are exact duplicates. `--nprobe` overrides the tuned nprobe (`--nprobe`
= nlist scans every list, what the tuner chose before it counted ties).

`filtered`: date filters on `latency`'s store (built the same way if missing). Each passage is given
a publication day, at random over three years (the synthetic documents have none), and each query
a range, of random start, holding about each of `--fractions` of the passages. Prints p50/p95 of the
filtered dense search and of the filtered `HybridRetriever.run` (a new range almost every query, so
the row filter is built each time), the ratio to the unfiltered hybrid p50, and recall@10 against
the same ranges searched exactly (every in-range float vector scored; its p50 is printed too).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embeddings.encoder import load_encoder  # noqa: E402
from qa.config import get_settings  # noqa: E402
from qa.daterange import DateRange  # noqa: E402
from qa.evaluation.questions import percentile  # noqa: E402
from qa.evaluation.squad import EVAL_ARTICLES, load_squad  # noqa: E402
from qa.ingest import chunking  # noqa: E402
from qa.ingest.sources import Document  # noqa: E402
from qa.retrieval import Hit, HybridRetriever  # noqa: E402
from qa.stores.local.index import Index  # noqa: E402
from qa.stores.local.store import LocalStore  # noqa: E402
from qa.stores.local.vectors import FILTER_EXACT_ROWS, RowFilter, VectorIndex, exact_top_k, recall_at_k  # noqa: E402
from qa.stores.postgres.store import PgStore  # noqa: E402
from qa.text import terms  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SPLIT = re.compile(r"(?<=[.!?])\s+")
BULK_LOAD_SETTINGS = {"maintenance_work_mem": "4GB", "max_wal_size": "16GB", "fsync": "off"}


@contextmanager
def postgresql(args: argparse.Namespace) -> Iterator[str]:
    """The database to measure: `--url` as it is, else one on a throwaway pgserver, deleted after ("" when
    PostgreSQL is not among `--backends`)."""
    if args.url or "postgresql" not in args.backends:
        yield args.url or ""
        return
    import pgserver  # the test extra, needed only here

    with tempfile.TemporaryDirectory(prefix="qa-bench-pg-") as tmp:
        pg = pgserver.get_server(Path(tmp) / "data", cleanup_mode="delete")
        try:
            with psycopg.connect(pg.get_uri(), autocommit=True) as conn:
                conn.execute(b"CREATE DATABASE bench")
                for name, value in BULK_LOAD_SETTINGS.items():
                    conn.execute(f"ALTER SYSTEM SET {name} = '{value}'".encode())
                conn.execute(b"SELECT pg_reload_conf()")
            yield pg.get_uri("bench")
        finally:
            pg.cleanup()


KNOWN_SPLITS: dict[str, list[tuple[int, int]]] = {}  # document text -> its sentences' offsets, from how it was made
_pysbd_split = chunking.split_sentences


def known_split(text: str, segment: Callable[[str], list[str]] | None = None) -> list[tuple[int, int]]:
    """`chunking.split_sentences`, with the synthetic documents' sentence offsets known beforehand."""
    spans = KNOWN_SPLITS.get(text)
    return list(spans) if spans is not None else _pysbd_split(text, segment)


# ---- quality ---------------------------------------------------------------------------------
def quality_run(args: argparse.Namespace, store_url: str | None) -> dict[str, Any]:
    """`bench/quality.py --json` into a snapshot directory (`store_url` None) or into PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if k != "QA_STORE_URL"}
    if store_url:
        env["QA_STORE_URL"] = store_url
    command = [sys.executable, str(ROOT / "bench" / "quality.py"), "--json", "--backend", args.backend]
    command += ["--max-passage-chars", str(args.max_passage_chars), "--sample", str(args.sample), "--seed", str(args.seed)]
    command += ["--limit", str(args.limit)]
    result = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_quality(args: argparse.Namespace) -> None:
    rows = {}
    with postgresql(args) as url:
        for name, store_url in (("local", None), ("postgresql", url)):
            if name in args.backends:
                rows[name] = quality_run(args, store_url)
                print(name, rows[name], flush=True)
    first = next(iter(rows.values()))
    s, f = first["squad"], first["scifact"]
    print(
        f"\nSQuAD: {s['questions']} questions (seed {s['seed']}), {s['passages']} passages; SciFact: {f['queries']} test queries"
    )
    print("| backend | SciFact nDCG@10 hybrid | bm25 | dense | SQuAD recall@5 | SciFact index s | SQuAD index s |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        n = r["scifact"]["ndcg@10"]
        print(
            f"| {name} | {n['hybrid']:.4f} | {n['bm25']:.4f} | {n['dense']:.4f} | {r['squad']['recall@5']:.4f} | "
            f"{r['scifact']['index_s']} | {r['squad']['index_s']} |"
        )


# ---- scale -----------------------------------------------------------------------------------
class SyntheticEncoder:
    """Stands in for the encoder at scale: a text's vector is its pool sentences' vectors summed, plus noise."""

    def __init__(self, pool: list[str], pool_vectors: np.ndarray, model_name: str) -> None:
        self.row = {s: i for i, s in enumerate(pool)}
        self.pool_vectors = pool_vectors
        self.model_name, self.backend, self.dim = model_name, "synthetic", pool_vectors.shape[1]

    def encode(self, texts: list[str], batch_size: int = 32, progress: Any = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            rows = [self.row[s] for s in SPLIT.split(text.strip()) if s in self.row]
            noise = np.random.default_rng(zlib.crc32(text.encode())).normal(scale=0.05, size=self.dim)
            out[i] = self.pool_vectors[rows].sum(axis=0) + noise
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        if progress:
            progress(len(texts))
        return out


class NoTagger:
    model = "none"
    nlp = None  # nothing to load

    def stream(self, items: Iterable[tuple[str, int]], total: int = 0) -> Iterator[list]:
        for _ in items:
            yield []

    def run(self, texts: list[str], starts: list[int], progress: Any = None) -> list[list]:
        if progress:
            progress(len(texts))
        return [[] for _ in texts]


def sentence_pool(n: int, seed: int) -> tuple[list[str], list[int]]:
    """`bench/scale.py`'s sentence pool (up to `n` sentences of 40-300 characters from SQuAD dev's articles and
    3,000 SciFact abstracts, shuffled by `seed`) with the source each came from, less those that do not end in
    . ! or ?: joined into a document, the rest split back into the same sentences."""
    squad = json.loads((BENCH / "squad" / "dev-v1.1.json").read_text())["data"]
    scifact = (BENCH / "scifact" / "corpus.jsonl").read_text().splitlines()[:3000]
    texts = ["\n".join(p["context"] for p in a["paragraphs"]) for a in squad] + [json.loads(line)["text"] for line in scifact]
    found = [(s.strip(), source) for source, text in enumerate(texts) for s in SPLIT.split(text) if 40 <= len(s.strip()) <= 300]
    random.Random(seed).shuffle(found)
    kept = [(sentence, source) for sentence, source in found[:n] if sentence[-1] in ".!?"]
    return [sentence for sentence, _ in kept], [source for _, source in kept]


def synthetic_documents(n: int, pool: list[str], source_of: list[int], rng: np.random.Generator) -> list[Document]:
    by_source: dict[int, list[int]] = {}
    for i, source in enumerate(source_of):
        by_source.setdefault(source, []).append(i)
    groups = [np.array(m) for m in by_source.values() if len(m) >= 3]
    weights = np.array([len(g) for g in groups], dtype=float)
    chosen = rng.choice(len(groups), size=n, p=weights / weights.sum())
    return [
        edit(Document(f"d{i}", "", ""), [pool[j] for j in groups[g][rng.integers(0, len(groups[g]), 3)]])
        for i, g in enumerate(chosen)
    ]


def edit(doc: Document, sentences: list[str]) -> Document:
    text = " ".join(sentences)
    spans, start = [], 0
    for sentence in sentences:
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 1
    KNOWN_SPLITS[text] = spans
    return Document(doc.doc_id, text, "", content_hash=f"{zlib.crc32(text.encode()):08x}")


def snapshot_bytes(store: LocalStore) -> int:
    return sum(p.stat().st_size for p in (store.root / str(store.current_version())).rglob("*") if p.is_file())


def wal_lsn(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(b"SELECT pg_current_wal_lsn()::text").fetchone()[0]  # type: ignore[index]


def wal_since(url: str, lsn: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return int(conn.execute(b"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", (lsn,)).fetchone()[0])  # type: ignore[index]


@dataclasses.dataclass
class SyntheticSetup:
    """The sentence pool synthetic passages are drawn from, an encoder that looks their vectors up,
    and sampled SQuAD questions with their real vectors: what `scale`, `latency` and `filtered` share."""

    pool: list[str]
    source_of: list[int]
    fake: SyntheticEncoder
    questions: list[str]
    query_vectors: np.ndarray


def synthetic_setup(args: argparse.Namespace) -> SyntheticSetup:
    encoder = load_encoder(MODEL, args.backend, ROOT / ".qa" / "cache")
    pool, source_of = sentence_pool(args.pool, args.seed)
    fake = SyntheticEncoder(pool, encoder.encode(pool, batch_size=64), encoder.model_name)
    squad = [q.question for q in load_squad(BENCH / "squad" / "dev-v1.1.json", EVAL_ARTICLES)[1]]
    questions = random.Random(args.seed).sample(squad, args.queries)
    return SyntheticSetup(pool, source_of, fake, questions, encoder.encode(questions))


def use_known_split() -> None:
    """Chunk with the synthetic documents' known sentence offsets instead of pysbd.

    The splitter is replaced in this process only, so chunking stays here too: worker processes
    (`chunk_documents` on a big batch) would import the module afresh and split with pysbd.
    """
    chunking.split_sentences = known_split  # what chunk_document calls
    chunking.PROCESS_MIN_CHARS = sys.maxsize


def run_scale(args: argparse.Namespace) -> None:
    setup = synthetic_setup(args)
    pool, source_of, fake, questions, query_vectors = (
        setup.pool,
        setup.source_of,
        setup.fake,
        setup.questions,
        setup.query_vectors,
    )
    rng = np.random.default_rng(args.seed)
    docs = synthetic_documents(args.passages, pool, source_of, rng)
    changed = list(docs)
    for i in rng.choice(len(docs), size=args.changed, replace=False):
        sentences = SPLIT.split(docs[i].text)
        sentences[0] = pool[int(rng.integers(0, len(pool)))]
        changed[i] = edit(docs[i], sentences)
    sample = docs[: min(2000, len(docs))]
    started = time.perf_counter()
    for doc in sample:
        _pysbd_split(doc.text)
    split_ms = (time.perf_counter() - started) * 1000 / len(sample)
    same = sum(_pysbd_split(d.text) == KNOWN_SPLITS[d.text] for d in sample[:500])
    print(
        f"sentence splitting (pysbd): {split_ms:.2f} ms a document on {len(sample):,} documents, about "
        f"{split_ms * len(docs) / 1000:.0f} s for all; pysbd agrees with the known offsets on {same} of {len(sample[:500])}",
        flush=True,
    )
    if args.split == "known":
        use_known_split()
    ann_threshold = get_settings().ann_threshold
    print(
        f"{len(docs):,} documents of one passage; {args.queries} SQuAD questions (seed {args.seed}); "
        f"approximate search above {ann_threshold:,} passages (IVF-SQ8 locally, HNSW in PostgreSQL)",
        flush=True,
    )
    rows = []
    with postgresql(args) as url, tempfile.TemporaryDirectory() as tmp:
        stores = {"local": lambda: LocalStore(Path(tmp)), "postgresql": lambda: PgStore(url, exact_below=ann_threshold)}
        for name in args.backends:
            store = stores[name]()
            with store.lock(wait_s=60):
                started = time.perf_counter()
                report = store.build(docs, fake, args.max_chars, ann_threshold=ann_threshold, tagger=NoTagger(), rebuild=True)  # type: ignore[arg-type]  # SpanTagger's run(), tagging nothing
                load_s = time.perf_counter() - started
            assert report.passages == len(docs), report.passages
            retriever = HybridRetriever(store.open(fake.model_name, fake.backend), fake)
            retriever.run(questions[0], 10, query_vector=query_vectors[0])
            ms = []
            for question, query_vector in zip(questions, query_vectors, strict=True):
                started = time.perf_counter()
                retriever.run(question, 10, query_vector=query_vector)
                ms.append((time.perf_counter() - started) * 1000)
            lsn = wal_lsn(url) if isinstance(store, PgStore) else ""
            with store.lock(wait_s=60):
                started = time.perf_counter()
                update = store.build(changed, fake, args.max_chars, ann_threshold=ann_threshold, tagger=NoTagger())  # type: ignore[arg-type]
                update_s = time.perf_counter() - started
            assert len(update.updated) == args.changed, len(update.updated)
            written = wal_since(url, lsn) if isinstance(store, PgStore) else snapshot_bytes(store)  # type: ignore[arg-type]
            rows.append((name, load_s, ms, update_s, written))
            print(
                rows[-1][:2],
                f"p50 {percentile(ms, 0.5):.1f} ms",
                f"update {update_s:.1f} s, {written / 2**20:.1f} MiB",
                flush=True,
            )
            store.close()
    print(
        f"\n| backend | passages | load + index build | hybrid query ms p50 / p95 | update of {args.changed} documents | bytes written by it |"
    )
    print("|---|---|---|---|---|---|")
    for name, load_s, ms, update_s, written in rows:
        print(
            f"| {name} | {len(docs):,} | {load_s:.1f} s | {percentile(ms, 0.5):.2f} / {percentile(ms, 0.95):.2f} | {update_s:.2f} s | {written / 2**20:.1f} MiB |"
        )


# ---- latency ---------------------------------------------------------------------------------
def timed_ms(fn: Any, n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def p50_p95(ms: list[float]) -> str:
    return f"{percentile(ms, 0.5):.2f} / {percentile(ms, 0.95):.2f}"


def latency_store(args: argparse.Namespace, fake: SyntheticEncoder, pool: list[str], source_of: list[int]) -> Index:
    """The snapshot store of `--passages` synthetic passages in bench/out/store-latency-N, built if
    missing (or `--rebuild`), loaded as `qa` loads it."""
    store = LocalStore(ROOT / "bench" / "out" / f"store-latency-{args.passages}")
    if args.rebuild or not store.exists():
        docs = synthetic_documents(args.passages, pool, source_of, np.random.default_rng(args.seed))
        use_known_split()
        with store.lock(wait_s=60):
            started = time.perf_counter()
            store.build(docs, fake, args.max_chars, ann_threshold=get_settings().ann_threshold, tagger=NoTagger(), rebuild=True)  # type: ignore[arg-type]
        print(f"built {store.root} in {time.perf_counter() - started:.1f} s", flush=True)
        del docs
    started = time.perf_counter()
    index = store.open(fake.model_name, fake.backend)
    print(f"loaded {index.passage_count:,} passages in {time.perf_counter() - started:.1f} s; vectors: {index.vectors.params}")
    return index


def latency_setup(args: argparse.Namespace) -> tuple[SyntheticEncoder, list[str], np.ndarray, Index]:
    """What `latency` and `filtered` both measure on: the synthetic encoder, the sampled SQuAD
    questions and their vectors, and the store loaded as `qa` loads it."""
    setup = synthetic_setup(args)
    index = latency_store(args, setup.fake, setup.pool, setup.source_of)
    return setup.fake, setup.questions, setup.query_vectors, index


def run_latency(args: argparse.Namespace) -> None:
    """The local store's hybrid retrieval as `qa` loads it, taken apart: where the time goes, and
    recall@10 against the same retriever with exact dense search."""
    fake, questions, query_vectors, index = latency_setup(args)
    texts = [p.text for p in index.passages]
    print(f"distinct passage texts: {len(set(texts)):,} of {len(texts):,}")
    del texts
    if args.nprobe and index.vectors.ann is not None:
        faiss.extract_index_ivf(index.vectors.ann).nprobe = args.nprobe
        print(f"nprobe set to {args.nprobe} (--nprobe)")
    retriever = HybridRetriever(index, fake)
    retriever.run(questions[0], 10, query_vector=query_vectors[0])
    n = len(questions)
    query_terms = [[t for t in terms(q) if t in index.bm25.vocab_dict] for q in questions]
    dense_ms = timed_ms(lambda i: index.vectors.search(query_vectors[i], 50), n)
    bm25_ms = timed_ms(lambda i: index.bm25.get_scores(query_terms[i]) if query_terms[i] else None, n)
    hybrid_ms = timed_ms(lambda i: retriever.run(questions[i], 10, query_vector=query_vectors[i]), n)
    served = [retriever.run(q, 10, query_vector=v) for q, v in zip(questions, query_vectors, strict=True)]
    # The same retriever over the same snapshot with exact dense search (the float vectors, scanned).
    exact_index = dataclasses.replace(index, vectors=VectorIndex(index.vectors.vectors))
    exact = HybridRetriever(exact_index, fake)
    started = time.perf_counter()
    truth = [exact.run(q, 10, query_vector=v) for q, v in zip(questions, query_vectors, strict=True)]
    exact_s = time.perf_counter() - started
    by_id = np.mean(
        [len({h.passage.id for h in a} & {h.passage.id for h in b}) / max(1, len(b)) for a, b in zip(served, truth, strict=True)]
    )
    # A duplicate passage (same text, so the same cosine and BM25 score) stands in for its copy.
    by_text = np.mean(
        [
            len({h.passage.text for h in a} & {h.passage.text for h in b}) / max(1, len({h.passage.text for h in b}))
            for a, b in zip(served, truth, strict=True)
        ]
    )
    dense_truth = exact_top_k(index.vectors.vectors, query_vectors, 10)
    dense_recall = recall_at_k(index.vectors.vectors, query_vectors, dense_truth, index.vectors.search_batch(query_vectors, 10))
    print(f"\n{index.passage_count:,} passages, {n} SQuAD questions (seed {args.seed}), single queries; ms p50 / p95")
    print(
        "| passages | nprobe/nlist | dense (IVF) top-50 | BM25 scores | hybrid `HybridRetriever.run` | hybrid recall@10 vs exact, by id / duplicates counted | dense recall@10 (ties counted) | exact hybrid |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ivf = faiss.extract_index_ivf(index.vectors.ann) if index.vectors.ann is not None else None
    print(
        f"| {index.passage_count:,} | {f'{ivf.nprobe}/{ivf.nlist}' if ivf else 'exact'} | {p50_p95(dense_ms)} | {p50_p95(bm25_ms)} | "
        f"{p50_p95(hybrid_ms)} | {by_id:.3f} / {by_text:.3f} | {dense_recall:.3f} | {exact_s * 1000 / n:.0f} ms a query |"
    )


def run_filtered(args: argparse.Namespace) -> None:
    """Date-filtered retrieval on `latency`'s store: each passage gets a publication day (spread evenly
    over three years, at random, seed fixed), and each query a range of a random start holding
    about `--fractions` of the passages. Latency of the filtered dense search and of the whole
    filtered `HybridRetriever.run` against the unfiltered one; recall@10 against the same filters
    searched exactly (every in-range float vector scored, what the filtered dense search did before)."""
    fake, questions, query_vectors, index = latency_setup(args)
    first, span = date(2022, 1, 1).toordinal(), 3 * 365
    # What `Index.days` reads from `published`; the synthetic documents have none.
    index.__dict__["days"] = np.random.default_rng(args.seed).integers(first, first + span, index.passage_count).astype(np.int32)
    for vectors in (index.vectors.vectors[start : start + 262_144] for start in range(0, index.passage_count, 262_144)):
        np.asarray(vectors).sum()  # the float vectors into the page cache, as on a server that has been answering
    retriever = HybridRetriever(index, fake)
    exact_index = dataclasses.replace(index, vectors=VectorIndex(index.vectors.vectors))  # flat: exact over the rows in range
    exact_index.__dict__["days"] = index.days
    exact = HybridRetriever(exact_index, fake)
    n, n_truth = len(questions), min(len(questions), args.recall_queries)
    retriever.run(questions[0], 10, query_vector=query_vectors[0])
    unfiltered = timed_ms(lambda i: retriever.run(questions[i], 10, query_vector=query_vectors[i]), n)
    ivf = faiss.extract_index_ivf(index.vectors.ann) if index.vectors.ann is not None else None
    print(
        f"\n{index.passage_count:,} passages ({f'IVF nprobe/nlist {ivf.nprobe}/{ivf.nlist}' if ivf else 'exact'}), {n} SQuAD "
        f"questions (seed {args.seed}), single queries, ms p50 / p95; unfiltered hybrid {p50_p95(unfiltered)}; recall on "
        f"the first {n_truth}; exact filtered search up to {FILTER_EXACT_ROWS:,} rows in range"
    )
    print(
        "| passages | range | rows in range | filtered dense top-50 | filtered hybrid | vs unfiltered hybrid p50 | "
        "hybrid recall@10 vs exact-filtered, by id / duplicates counted | dense recall@10 (ties counted) | exact-filtered hybrid p50 | row filter built |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    rng = random.Random(args.seed)
    for fraction in args.fractions:
        n_days = max(1, round(span * fraction))
        starts = [rng.randrange(first, first + span - n_days + 1) for _ in range(n)]
        ranges = [DateRange(date.fromordinal(s), date.fromordinal(s + n_days - 1)) for s in starts]
        started = time.perf_counter()
        for dates in ranges[:20]:
            built = RowFilter((index.days >= dates.first.toordinal()) & (index.days <= dates.last.toordinal()))
            _ = built.selector if built.count > FILTER_EXACT_ROWS else built.rows
        build_ms = (time.perf_counter() - started) * 1000 / 20
        in_range = np.mean([len(index.row_filter(d)) for d in ranges])
        dense_ms = timed_ms(lambda i, r=ranges: index.vectors.search_filtered(query_vectors[i], 50, index.row_filter(r[i])), n)
        hybrid_ms = timed_ms(lambda i, r=ranges: retriever.run(questions[i], 10, query_vector=query_vectors[i], dates=r[i]), n)
        served = [retriever.run(questions[i], 10, query_vector=query_vectors[i], dates=ranges[i]) for i in range(n_truth)]
        truth: list[list[Hit]] = []
        truth_ms = timed_ms(
            lambda i, r=ranges, out=truth: out.append(exact.run(questions[i], 10, query_vector=query_vectors[i], dates=r[i])),
            n_truth,
        )
        by_id = np.mean(
            [
                len({h.passage.id for h in a} & {h.passage.id for h in b}) / max(1, len(b))
                for a, b in zip(served, truth, strict=True)
            ]
        )
        by_text = np.mean(
            [
                len({h.passage.text for h in a} & {h.passage.text for h in b}) / max(1, len({h.passage.text for h in b}))
                for a, b in zip(served, truth, strict=True)
            ]
        )
        found = np.full((n_truth, 10), -1, dtype=np.int64)
        dense_truth = np.full((n_truth, 10), -1, dtype=np.int64)  # -1: a range holding fewer than 10 passages
        for i in range(n_truth):
            within = index.row_filter(ranges[i])
            ids = index.vectors.search_filtered(query_vectors[i], 50, within)[1][:10]
            found[i, : len(ids)] = ids
            exact_ids = index.vectors.search_rows(query_vectors[i], 10, within.rows)[1]
            dense_truth[i, : len(exact_ids)] = exact_ids
        dense_recall = recall_at_k(index.vectors.vectors, query_vectors[:n_truth], dense_truth, found)
        print(
            f"| {index.passage_count:,} | {fraction:.1%} ({n_days} days) | {in_range:,.0f} | {p50_p95(dense_ms)} | {p50_p95(hybrid_ms)} | "
            f"{percentile(hybrid_ms, 0.5) / percentile(unfiltered, 0.5):.2f}x | {by_id:.3f} / {by_text:.3f} | {dense_recall:.3f} | "
            f"{percentile(truth_ms, 0.5):.0f} | {build_ms:.2f} ms |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["quality", "scale", "latency", "filtered"])
    parser.add_argument("--backend", default=get_settings().backend, help="encoder runtime")
    parser.add_argument("--max-passage-chars", type=int, default=600)
    parser.add_argument("--sample", type=int, default=500, help="SQuAD questions")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=0, help="quality: bench/quality.py's smoke-run size (0: the full sets)")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--pool", type=int, default=6000, help="distinct sentences encoded (scale)")
    parser.add_argument("--max-chars", type=int, default=2000, help="passage length at scale: one passage per document")
    parser.add_argument("--split", choices=["known", "pysbd"], default="known", help="sentence offsets at scale (see above)")
    parser.add_argument("--rebuild", action="store_true", help="latency: build the store again even if bench/out has it")
    parser.add_argument("--nprobe", type=int, default=0, help="latency: search with this nprobe instead of the tuned one")
    parser.add_argument(
        "--fractions",
        default="0.001,0.01,0.1,0.5,0.9",
        help="filtered: shares of the passages the date ranges hold, comma-separated",
    )
    parser.add_argument(
        "--recall-queries", type=int, default=50, help="filtered: queries whose recall is measured (exact is slow)"
    )
    parser.add_argument("--backends", default="local,postgresql", help="comma-separated: local, postgresql")
    parser.add_argument("--url", help="postgresql://... of a server to measure (its index is replaced); default: a throwaway one")
    args = parser.parse_args()
    args.backends = [b for b in args.backends.split(",") if b]
    if not set(args.backends) <= {"local", "postgresql"}:
        parser.error("--backends: local and/or postgresql")
    if args.what == "quality":
        run_quality(args)
    elif args.what == "latency":
        run_latency(args)
    elif args.what == "filtered":
        args.fractions = [float(f) for f in args.fractions.split(",") if f]
        run_filtered(args)
    else:
        run_scale(args)


if __name__ == "__main__":
    main()
