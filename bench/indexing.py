"""Indexing throughput: the news corpus and a synthetic one, end to end, with time per stage and peak memory.

    .venv/bin/python bench/indexing.py                      # news corpus, then 100k synthetic passages
    .venv/bin/python bench/indexing.py --limit 2000         # quick run: ~2,000 passages of each
    .venv/bin/python bench/indexing.py --only news --check-tags 500

Each corpus is indexed in a fresh process by the local store's real build path (`build_index`,
as `qa index` runs it: clean, chunk, tag + encode concurrently, write the snapshot) into
bench/out/indexing/ (never bench/out/news-index). Stage times come from timing the functions
`build_index` calls; "tag" and "encode" overlap, so their sum exceeds the "tag + encode" wall time.
Peak RSS is the indexing process plus its children (the tagging worker): the sum of their
`getrusage` maxima (an upper bound, as the peaks need not coincide) and the largest sum psutil
saw, sampling every 0.2 s.

The synthetic corpus is deterministic: the sentences of the news articles, shuffled with a fixed
seed and dealt into documents of 8-24 sentences under news titles, each with a URL of its own
host, so recurring sentences are not learnt as one outlet's page furniture.

`--check-tags N` first compares the spans of N news passages tagged as before this change (full
pipeline with the parser and lemmatizer disabled, in process) and as now (excluded components,
memory zones, a worker process): they must be identical.

Targets (issue 20): >= 150 passages/s end to end, peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import get_settings  # noqa: E402

NEWS = ROOT.parent / "shared" / "bench" / "news" / "articles.jsonl"
OUT = ROOT / "bench" / "out" / "indexing"
PASSAGES_PER_ARTICLE = 6.6  # news: 24,610 passages from 3,744 articles
CHARS_PER_PASSAGE = 560
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def synthetic_corpus(passages: int, seed: int = 20) -> Path:
    """A JSONL corpus of about `passages` passages from shuffled news sentences (written once)."""
    path = OUT / f"synthetic-{passages}-{seed}.jsonl"
    if path.exists():
        return path
    articles = [json.loads(line) for line in NEWS.read_text().splitlines() if line.strip()]
    sentences = [s.strip() for a in articles for s in SENTENCE_END.split(a["text"]) if 20 <= len(s.strip()) <= 400]
    titles = [a["title"] for a in articles if a.get("title")]
    rng = random.Random(seed)
    rng.shuffle(sentences)
    budget, cursor, n = passages * CHARS_PER_PASSAGE, 0, 0
    lines = []
    while budget > 0:
        k = rng.randint(8, 24)
        body = [sentences[(cursor + j) % len(sentences)] for j in range(k)]
        cursor += k
        paragraphs = [" ".join(body[i : i + 4]) for i in range(0, k, 4)]
        text = "\n\n".join(paragraphs)
        budget -= len(text)
        lines.append(
            json.dumps({"id": f"syn-{n}", "title": rng.choice(titles), "url": f"https://site{n}.example/story", "text": text})
        )
        n += 1
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def news_corpus(limit: int | None) -> Path:
    """The news corpus, or its first articles for about `limit` passages."""
    if not limit:
        return NEWS
    articles = max(1, round(limit / PASSAGES_PER_ARTICLE))
    path = OUT / f"news-first-{articles}.jsonl"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(NEWS.read_text().splitlines(keepends=True)[:articles]))
    return path


class PeakSampler:
    """The largest RSS of this process plus its descendants, sampled every 0.2 s in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            try:
                total = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_one(corpus: Path, index_dir: Path) -> dict[str, Any]:
    """Index `corpus` into a fresh `index_dir` in this process; timings, counts and memory."""
    import shutil

    import qa.stores.local.index as local_index
    from embeddings.encoder import load_encoder
    from qa.ingest.sources import index_root, load_documents
    from qa.ingest.tagging import SpanTagger
    from qa.stores.local.snapshots import Snapshots

    settings = get_settings(cache_dir=ROOT / ".qa" / "cache")
    stages = {"clean": 0.0, "chunk": 0.0, "tag": 0.0, "encode": 0.0, "tag + encode": 0.0, "write": 0.0}
    cpu = dict.fromkeys(stages, 0.0)

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began, began_cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[name] += time.perf_counter() - began
                cpu[name] += time.process_time() - began_cpu

        return wrapper

    tag_and_encode = local_index.tag_and_encode

    def tag_and_encode_timed(*args: Any, **kwargs: Any) -> Any:
        began_cpu, began_children = time.process_time(), children_cpu()
        times = tag_and_encode(*args, **kwargs)
        stages["tag"] += times.tag_s
        stages["encode"] += times.encode_s
        stages["tag + encode"] += times.wall_s
        cpu["tag"] += children_cpu() - began_children  # the tagging worker (or 0 when tagged in process)
        cpu["encode"] += time.process_time() - began_cpu  # this process: the encoder, and the tagger if in process
        cpu["tag + encode"] = cpu["tag"] + cpu["encode"]
        return times

    chunk_documents = local_index.chunk_documents

    def chunk_documents_timed(*args: Any, **kwargs: Any) -> Any:
        began_children = children_cpu()
        passages = timed("chunk", chunk_documents)(*args, **kwargs)
        cpu["chunk"] += children_cpu() - began_children  # its worker processes, finished by now
        return passages

    local_index.chunk_documents = chunk_documents_timed
    local_index.tag_and_encode = tag_and_encode_timed
    local_index.write_snapshot = timed("write", local_index.write_snapshot)

    encoder = load_encoder(settings.model, settings.backend, settings.cache_dir, settings.threads)
    shutil.rmtree(index_dir, ignore_errors=True)
    snapshots = Snapshots(index_dir)
    with PeakSampler() as sampler:
        began, began_cpu = time.perf_counter(), time.process_time()
        documents = list(load_documents([corpus], lambda message: None))
        stages["clean"], cpu["clean"] = time.perf_counter() - began, time.process_time() - began_cpu
        with snapshots.lock():
            report = local_index.build_index(
                documents,
                encoder,
                snapshots,
                settings.max_passage_chars,
                scanned_roots=[index_root(corpus)],
                ann_threshold=settings.ann_threshold,
                tagger=SpanTagger(settings.ner_model),
            )
        wall = time.perf_counter() - began
        cpu_total = time.process_time() - began_cpu + children_cpu()
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "corpus": str(corpus),
        "documents": report.documents,
        "passages": report.passages,
        "wall_s": wall,
        "passages_per_s": report.passages / wall,
        "stages_s": stages,
        "stages_cpu_s": cpu,
        "cpu_s": cpu_total,
        # What two otherwise idle cores would reach if they were kept busy (the CPU is shared here).
        "passages_per_s_at_2_busy_cores": report.passages / (cpu_total / 2),
        "peak_rss_mb": {"self": self_mb, "children": children_mb, "sum": self_mb + children_mb, "sampled": sampler.peak / 2**20},
    }


def check_tags(n: int) -> dict[str, Any]:
    """Spans of `n` news passages, tagged the old way and the new way; how many differ."""
    import spacy

    from qa.ingest.chunking import chunk_document
    from qa.ingest.sources import load_documents
    from qa.ingest.tagging import DEFAULT_NER_MODEL, SpanTagger, doc_spans

    documents = list(load_documents([news_corpus(max(n, 300) * 3)], lambda message: None))
    passages = [p for doc in documents for p in chunk_document(doc.doc_id, doc.text, 600)]
    sample = passages[:: max(1, len(passages) // n)][:n]
    old_nlp = spacy.load(DEFAULT_NER_MODEL, disable=["parser", "lemmatizer"])  # the pipeline before this change
    old = [doc_spans(doc, p.start) for doc, p in zip(old_nlp.pipe([p.text for p in sample], batch_size=64), sample, strict=True)]
    new = SpanTagger(processes=1).run([p.text for p in sample], [p.start for p in sample])
    differ = [p.id for p, a, b in zip(sample, old, new, strict=True) if a != b]
    return {"passages": len(sample), "spans": sum(map(len, old)), "differ": len(differ), "differing_ids": differ[:10]}


def in_subprocess(args: list[str]) -> dict[str, Any]:
    """Run this script with `args` in a fresh process (clean memory figures); its JSON result."""
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(name: str, result: dict[str, Any]) -> None:
    rss = result["peak_rss_mb"]
    print(
        f"{name}: {result['passages']:,} passages ({result['documents']:,} documents) in {result['wall_s']:.1f} s = "
        f"{result['passages_per_s']:.1f} passages/s end to end; peak RSS incl. children {rss['sum']:,.0f} MiB "
        f"(self {rss['self']:,.0f} + children {rss['children']:,.0f}; sampled concurrent {rss['sampled']:,.0f})"
    )
    cpu = result["stages_cpu_s"]
    print("  wall (CPU): " + ", ".join(f"{stage} {s:.1f} s ({cpu[stage]:.1f})" for stage, s in result["stages_s"].items()))
    print(
        f"  CPU {result['cpu_s']:.1f} s in all = {1000 * result['cpu_s'] / result['passages']:.1f} ms a passage; "
        f"{result['passages_per_s_at_2_busy_cores']:.1f} passages/s if both cores were this run's"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--limit", type=int, default=0, help="about this many passages of each corpus (0: all news, 100k synthetic)"
    )
    parser.add_argument("--synthetic", type=int, default=100_000, help="synthetic passages (before --limit)")
    parser.add_argument("--only", choices=["news", "synthetic"], help="run one corpus only")
    parser.add_argument(
        "--check-tags", type=int, default=300, metavar="N", help="compare old and new tags on N news passages (0: skip)"
    )
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # internal: index this corpus, print JSON
    parser.add_argument("--check-tags-only", type=int, help=argparse.SUPPRESS)  # internal: the tag check, print JSON
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, OUT / f"index-{args.run.stem}")))
        return
    if args.check_tags_only:
        print(json.dumps(check_tags(args.check_tags_only)))
        return
    results: dict[str, Any] = {}
    if args.check_tags:
        tags = results["check_tags"] = in_subprocess(["--check-tags-only", str(args.check_tags)])
        print(
            f"tags, old path vs new: {tags['passages']} news passages, {tags['spans']:,} spans, "
            f"{tags['differ']} passages differ {tags['differing_ids'] or ''}"
        )
    if args.only in (None, "news"):
        results["news"] = in_subprocess(["--run", str(news_corpus(args.limit))])
        show("news", results["news"])
    if args.only in (None, "synthetic"):
        size = min(args.synthetic, args.limit) if args.limit else args.synthetic
        results["synthetic"] = in_subprocess(["--run", str(synthetic_corpus(size))])
        show(f"synthetic ({size:,} asked)", results["synthetic"])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
