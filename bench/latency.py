"""Core benchmark: warm query latency, cold `qa ask` wall time, indexing throughput, peak memory.

    .venv/bin/python bench/latency.py [--corpus DIR] [--repeat N]

Warm latency is measured in process over the evaluation questions (each asked `--repeat` times)
after one warm-up; cold time is the wall time of a fresh `qa ask` process on a built index.
Targets: warm p50 < 15 ms on the bundled corpus, cold `qa ask` < 3 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embeddings.encoder import load_encoder  # noqa: E402
from qa.config import BUNDLED_CORPUS, get_settings  # noqa: E402
from qa.evaluation.questions import percentile  # noqa: E402
from qa.ingest.sources import load_documents, make_document  # noqa: E402
from qa.pipeline import QAPipeline  # noqa: E402
from qa.stores.local.index import build_index  # noqa: E402
from qa.stores.local.snapshots import Snapshots  # noqa: E402

SQUAD = ROOT.parent / "shared" / "bench" / "squad" / "dev-v1.1.json"
QUESTIONS = ROOT.parent / "shared" / "eval" / "questions.jsonl"
FALLBACK_QUESTIONS = [
    "When did Iran host Shoigu?",
    "Who is the spokesman for Iran's foreign ministry?",
    "How many Shahed drones had Iran provided to Russia since August?",
    "Who won the 2022 FIFA World Cup?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--throughput-docs", type=int, default=1000, help="SQuAD paragraphs indexed for throughput (0: skip)")
    args = parser.parse_args()
    cache_dir = ROOT / ".qa" / "cache"
    questions = (
        [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
        if QUESTIONS.exists()
        else FALLBACK_QUESTIONS
    )

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        settings = get_settings(cache_dir=cache_dir)
        encoder = load_encoder(settings.model, settings.backend, cache_dir)
        docs = list(load_documents([args.corpus], lambda message: None))
        started = time.perf_counter()
        report = build_index(docs, encoder, Snapshots(index_dir), 600)
        build_s = time.perf_counter() - started

        pipeline = QAPipeline(get_settings(index_dir=index_dir, cache_dir=cache_dir), encoder=encoder)
        pipeline.ask("warm-up")
        latencies, repeated = [], []
        for _ in range(args.repeat):
            for question in questions:
                pipeline.loaded.retriever.embed.clear()  # every ask pays for encoding its question
                started = time.perf_counter()
                pipeline.ask(question)
                latencies.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                pipeline.ask(question)  # the same question again: its vector is cached
                repeated.append((time.perf_counter() - started) * 1000)

        cold = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(
                [str(ROOT / ".venv" / "bin" / "qa"), "ask", "--json", questions[0], "--index-dir", str(index_dir)],
                check=True,
                capture_output=True,
                env={"QA_CACHE_DIR": str(cache_dir), "PATH": "/usr/bin:/bin"},
            )
            cold.append(time.perf_counter() - started)

    throughput = None
    if args.throughput_docs and SQUAD.exists():
        paragraphs = [p["context"] for article in json.loads(SQUAD.read_text())["data"] for p in article["paragraphs"]]
        squad_docs = [make_document(f"squad/{i}", text, {}, None) for i, text in enumerate(paragraphs[: args.throughput_docs])]
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            squad_report = build_index([d for d in squad_docs if d], encoder, Snapshots(Path(tmp)), 600)
            throughput = (squad_report.passages, time.perf_counter() - started)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {args.corpus} ({report.documents} documents, {report.passages} passages)")
    print(
        f"indexing: {build_s:.2f} s, {report.passages / build_s:.0f} passages/s (cleaning+chunking excluded, encoding included)"
    )
    if throughput:
        print(
            f"indexing throughput (SQuAD paragraphs): {throughput[0]} passages in {throughput[1]:.1f} s = "
            f"{throughput[0] / throughput[1]:.0f} passages/s"
        )
    print(
        f"warm query latency (in process, {len(latencies)} asks, question encoded each time): "
        f"p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, mean {statistics.fmean(latencies):.1f} ms"
    )
    print(
        f"repeated question (query vector cached): p50 {percentile(repeated, 0.5):.1f} ms, p95 {percentile(repeated, 0.95):.1f} ms"
    )
    print(f"cold `qa ask` wall time: median {statistics.median(cold):.2f} s (runs: {', '.join(f'{c:.2f}' for c in cold)})")
    print(f"peak memory (this process): {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
