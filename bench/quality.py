"""Quality on public benchmarks: BEIR SciFact (nDCG@10) and SQuAD v1.1 dev's evaluation half.

    .venv/bin/python bench/quality.py [--backend onnx|onnx-int8|torch] [--sample 2000] [--seed 13]
                                      [--only scifact|squad] [--limit N]

SciFact: the 5,183 abstracts are indexed (title + text), the 300 test queries are run through the
same retriever as `qa search`, passages are folded into documents by their best score, and
nDCG@10 is computed against qrels/test.tsv — for hybrid fusion, BM25 alone and dense alone, from
one index. SQuAD: only the evaluation half (articles 24-47, never used for fitting) is asked; every
paragraph is a document titled by its article. For a fixed random sample of questions (seed
printed): recall@5 (a top-5 passage holds a gold answer), answered share, answer contains gold,
`short_answer` exact match and F1 (SQuAD's normalisation), and false answers: the same questions
asked of an index of articles 0-23, where each answer given is wrong. `--limit` shrinks both for
a smoke run. With `QA_STORE_URL=postgresql://...` the indexes are built in that database instead
(its index is replaced), to compare the PostgreSQL backend with the snapshot directory; SQuAD's
second index (articles 0-23) goes to a database of its own, the URL's name + `_other`, created on
the same server when missing (the role needs CREATEDB, or create it yourself with pgvector).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embeddings.encoder import load_encoder  # noqa: E402
from qa.config import get_settings, is_postgres_url  # noqa: E402
from qa.config import without_password as redact  # noqa: E402
from qa.evaluation.questions import percentile  # noqa: E402
from qa.evaluation.squad import EVAL_ARTICLES, TRAIN_ARTICLES, contains_gold, exact_match, f1, load_squad  # noqa: E402
from qa.ingest.sources import Document  # noqa: E402
from qa.pipeline import QAPipeline  # noqa: E402
from qa.stores import open_store  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
MODES = {"hybrid": None, "bm25": 0.0, "dense": 1.0}  # dense weight in fusion (None: the default)


def own_database(url: str, suffix: str) -> str:
    """`url` with its database name + `suffix`, created on that server if missing: one index per database."""
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "postgres") + suffix
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise SystemExit(
            f"cannot create database {name!r} for a second index next to {redact(url)} ({str(exc).strip()}): "
            f"create it with the vector extension, or grant the role CREATEDB"
        ) from exc
    return urlunsplit(parts._replace(path="/" + name))


def build(
    documents: list[Document], backend: str, max_chars: int, workdir: Path, database_suffix: str = ""
) -> tuple[QAPipeline, float, int]:
    """Index into a fresh snapshot directory, or into QA_STORE_URL=postgresql://... (replaced: --rebuild).

    Indexes that must live side by side pass distinct `database_suffix`es: with PostgreSQL each gets
    its own database (one index per database), with snapshots `workdir` already separates them.
    """
    cache = ROOT / ".qa" / "cache"
    encoder = load_encoder("sentence-transformers/all-MiniLM-L6-v2", backend, cache)
    store_url = os.environ.get("QA_STORE_URL") or str(workdir)
    if is_postgres_url(store_url) and database_suffix:
        store_url = own_database(store_url, database_suffix)
    settings = get_settings(store_url=store_url, cache_dir=cache, backend=backend, max_passage_chars=max_chars)
    store = open_store(settings)
    started = time.perf_counter()
    with store.lock(wait_s=600):
        report = store.build(documents, encoder, max_chars, ann_threshold=settings.ann_threshold, rebuild=True)
    seconds = time.perf_counter() - started
    return QAPipeline(settings, encoder=encoder), seconds, report.passages


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(rel / math.log2(rank + 2) for rank, rel in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def scifact(args: argparse.Namespace) -> dict:
    folder = BENCH / "scifact"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines() if line.strip()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").read_text().splitlines()) if q}
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / "test.tsv") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    if args.limit:
        keep_queries = sorted(qrels)[: max(5, args.limit // 20)]
        qrels = {q: qrels[q] for q in keep_queries}
        wanted = {d for rel in qrels.values() for d in rel}
        corpus = [d for d in corpus if d["_id"] in wanted] + [d for d in corpus if d["_id"] not in wanted][: args.limit]
    documents = [
        Document(doc_id=d["_id"], text=d["text"], title=d.get("title") or d["_id"]) for d in corpus if d.get("text", "").strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, seconds, n_passages = build(documents, args.backend, args.max_passage_chars, Path(tmp))
        retriever = pipeline.loaded.retriever
        default_weight = retriever.dense_weight
        scores = {}
        for mode, weight in MODES.items():
            retriever.dense_weight = default_weight if weight is None else weight
            total = 0.0
            for query_id, relevant in qrels.items():
                ranked: list[str] = []
                for result in pipeline.search(queries[query_id], 50).results:
                    if result.doc_id not in ranked:
                        ranked.append(result.doc_id)
                total += ndcg_at_10(ranked, relevant)
            scores[mode] = round(total / len(qrels), 4)
        retriever.dense_weight = default_weight
    return {
        "documents": len(documents),
        "passages": n_passages,
        "queries": len(qrels),
        "index_s": round(seconds, 1),
        "ndcg@10": scores,
    }


def squad(args: argparse.Namespace) -> dict:
    """The evaluation half (articles 24-47): retrieval, answers, short answers, and false answers.

    False answers: the same questions asked of an index of the *other* half (articles 0-23),
    which cannot answer them; every answer given there is a false one.
    """
    path = BENCH / "squad" / "dev-v1.1.json"
    documents, questions = load_squad(path, EVAL_ARTICLES)
    other_documents, _ = load_squad(path, TRAIN_ARTICLES)
    rng = random.Random(args.seed)
    sample = rng.sample(questions, min(args.sample, len(questions)))
    if args.limit:
        sample = sample[: max(20, args.limit // 10)]
        keep = {q.doc_id for q in sample}
        documents = [d for d in documents if d.doc_id in keep] + [d for d in documents if d.doc_id not in keep][: args.limit]
        other_documents = other_documents[: args.limit]
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as other_tmp:
        pipeline, seconds, n_passages = build(documents, args.backend, args.max_passage_chars, Path(tmp))
        other, _, _ = build(other_documents, args.backend, args.max_passage_chars, Path(other_tmp), "_other")
        hits = answered = correct = false_answers = asked_short = 0
        em = f1_all = f1_short_kinds = 0.0
        latencies: list[float] = []
        for q in sample:
            top = pipeline.search(q.question, 5).results
            hits += any(contains_gold(r.passage, q.answers) for r in top)
            answer = pipeline.ask(q.question)
            latencies.append(answer.took_ms)
            answered += answer.answered
            correct += answer.answered and contains_gold(answer.answer, q.answers)
            short = answer.short_answer or ""
            em += exact_match(short, q.answers) if short else 0.0
            f1_all += f1(short, q.answers) if short else 0.0
            if answer.kind != "description":
                asked_short += 1
                f1_short_kinds += f1(short, q.answers) if short else 0.0
            false_answers += other.ask(q.question).answered
    n = len(sample)
    return {
        "documents": len(documents),
        "passages": n_passages,
        "questions": n,
        "seed": args.seed,
        "index_s": round(seconds, 1),
        "recall@5": round(hits / n, 4),
        "answered": round(answered / n, 4),
        "answer_contains_gold": round(correct / n, 4),
        "short_em": round(em / n, 4),
        "short_f1": round(f1_all / n, 4),
        "short_f1_thing_questions": round(f1_short_kinds / max(asked_short, 1), 4),
        "thing_questions": asked_short,
        "false_answers": round(false_answers / n, 4),
        "latency_ms_p50": round(percentile(latencies, 0.5), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=get_settings().backend)
    parser.add_argument("--max-passage-chars", type=int, default=600)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--only", choices=["scifact", "squad"])
    parser.add_argument("--limit", type=int, default=0, help="smoke run: roughly this many documents")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {"backend": args.backend, "max_passage_chars": args.max_passage_chars}
    if args.only in (None, "scifact"):
        results["scifact"] = scifact(args)
    if args.only in (None, "squad"):
        results["squad"] = squad(args)
    if args.json:
        print(json.dumps(results))
        return
    print(f"backend {args.backend}, passages ≤ {args.max_passage_chars} chars")
    if "scifact" in results:
        s = results["scifact"]
        print(
            f"SciFact: {s['documents']} docs, {s['passages']} passages, {s['queries']} test queries, indexed in {s['index_s']} s"
        )
        print("  nDCG@10  " + "  ".join(f"{mode} {value:.4f}" for mode, value in s["ndcg@10"].items()))
    if "squad" in results:
        s = results["squad"]
        print(
            f"SQuAD v1.1 dev, evaluation half (articles 24-47): {s['documents']} paragraphs, {s['passages']} passages, "
            f"{s['questions']} questions (seed {s['seed']}), indexed in {s['index_s']} s"
        )
        print(
            f"  recall@5 {s['recall@5']:.4f}  answered {s['answered']:.4f}  answer contains gold {s['answer_contains_gold']:.4f}"
        )
        print(
            f"  short answer EM {s['short_em']:.4f}  F1 {s['short_f1']:.4f}  (F1 on the {s['thing_questions']} questions that ask "
            f"for a thing: {s['short_f1_thing_questions']:.4f})"
        )
        print(
            f"  false answers (asked of an index of articles 0-23) {s['false_answers']:.4f}  latency p50 {s['latency_ms_p50']} ms"
        )


if __name__ == "__main__":
    main()
