"""The news development set on the 3,744-article news index: accuracy per half, and latency.

    .venv/bin/python bench/news_eval.py [--index-dir bench/out/news-index] [--half report|tune|all] [--set dev|time|developing]

Builds the index from ../shared/bench/news/articles.jsonl the first time (NER and encoding
included; a few minutes on two cores). The questions in bench/data/news_dev_questions.jsonl were
written before any tuning; tune on `--half tune`, report `--half report`. Scored as `qa eval`
does: an answer is correct when its text contains an accepted answer and it cites a gold
document; an unanswerable question is correct when declined. Latency is the in-process time of
`QAPipeline.ask` per question, every question distinct (the query-vector cache never hits).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.answering.dates import resolve  # noqa: E402
from qa.answering.reader import reader_input  # noqa: E402
from qa.config import get_settings  # noqa: E402
from qa.evaluation.questions import evaluate_file, percentile  # noqa: E402
from qa.ingest.chunking import split_sentences  # noqa: E402
from qa.pipeline import QAPipeline  # noqa: E402

NEWS = ROOT.parent / "shared" / "bench" / "news" / "articles.jsonl"
QUESTIONS = ROOT / "bench" / "data" / "news_dev_questions.jsonl"
TIME_QUESTIONS = ROOT / "bench" / "data" / "news_time_questions.jsonl"
DEVELOPING_QUESTIONS = ROOT / "bench" / "data" / "news_developing_questions.jsonl"


def sentence_with(text: str, expression: str) -> tuple[str, str] | None:
    """(the sentence holding `expression`, the expression as written there), first occurrence."""
    match = re.search(re.escape(expression), text, re.IGNORECASE)
    if match is None:
        return None
    for start, end in split_sentences(text):
        if start <= match.start() < end:
            return text[start:end], match.group(0)
    return None


def time_questions(pipeline: QAPipeline, args: argparse.Namespace) -> None:
    """The time question set (bench/data/news_time_questions.jsonl, gold resolved dates):
    - resolved: the answer's `resolved.value` and granularity equal the gold (what issue 19 scores);
    - answered with a gold document and the gold expression, and how many of those resolved right;
    - resolver alone: the gold expression, in its sentence of the first gold document, resolved
      against that document's date (the date code without the retriever and reader).
    """
    questions = [json.loads(line) for line in TIME_QUESTIONS.read_text().splitlines() if line.strip()]
    questions = [q for q in questions if args.half == "all" or q["half"] == args.half]
    articles = {}
    with NEWS.open() as fh:
        for line in fh:
            row = json.loads(line)
            articles[row["id"]] = row
    resolved_right = answered_right = alone_right = both = 0
    for q in questions:
        answer = pipeline.ask(q["question"])
        cited = {s.doc_id for c in answer.citations for s in c.sources}
        short = (answer.short_answer or "").lower()
        answered = answer.answered and bool(cited & set(q["docs"])) and any(a.lower() in short for a in q["answers"])
        got = answer.resolved
        right = got is not None and (got.value, got.granularity) == (q["resolved"], q["granularity"])
        doc = articles[q["docs"][0]]
        found = sentence_with(doc["text"], q["answers"][0])
        alone = resolve(found[1], found[0], doc["published"]) if found else None
        alone_ok = alone is not None and (alone.value, alone.granularity) == (q["resolved"], q["granularity"])
        resolved_right += right
        answered_right += answered
        alone_right += alone_ok
        both += answered and right
        if args.misses and not right:
            print(f"{q['id']} {q['expression']}: gold {q['resolved']} ({q['granularity']}, {q['answers'][0]!r}, "
                  f"published {q['published']}); got {got.value if got else None} ({got.granularity if got else ''}) "
                  f"from {answer.short_answer!r}; resolver alone {'ok' if alone_ok else alone}")  # fmt: skip
    n = len(questions)
    print(f"{args.half}: {n} time questions")
    print(f"  resolved correctly            {resolved_right}/{n} = {resolved_right / n:.3f}")
    print(f"  answered (gold doc and span)  {answered_right}/{n} = {answered_right / n:.3f}")
    print(f"  of those, resolved correctly  {both}/{answered_right} = {both / max(answered_right, 1):.3f}")
    print(f"  resolver alone (gold span)    {alone_right}/{n} = {alone_right / n:.3f}")


def developing_questions(pipeline: QAPipeline, args: argparse.Namespace) -> None:
    """The developing-story set (bench/data/news_developing_questions.jsonl):
    - newest: the answer states the newest report's answer and cites a newest-dated report;
    - stated: the answer states the newest report's answer (from any article);
    - earlier shown: the answer also lists at least one earlier report with a different answer.
    """
    questions = [json.loads(line) for line in DEVELOPING_QUESTIONS.read_text().splitlines() if line.strip()]
    questions = [q for q in questions if args.half == "all" or q["half"] == args.half]
    newest_right = stated = earlier_shown = 0
    for q in questions:
        answer = pipeline.ask(q["question"])
        latest = max(r["published"] for r in q["reports"])
        newest_docs = {r["doc"] for r in q["reports"] if r["published"] == latest}
        first = {s.doc_id for s in answer.citations[0].sources} if answer.citations else set()
        short = (answer.short_answer or answer.answer or "").lower()
        says = answer.answered and any(a.lower() in short for a in q["newest_answer"])
        right = says and bool(first & newest_docs)
        stated += says
        shown = bool(answer.earlier)
        newest_right += right
        earlier_shown += shown
        if args.misses or not right:
            earlier = "; ".join(f"{e.short_answer} ({e.published}) [{e.n}]" for e in answer.earlier)
            print(f"{q['id']} {'ok  ' if right else 'MISS'} {answer.short_answer!r} from {sorted(first)} "
                  f"(newest {sorted(newest_docs)}: {q['newest_answer']}); earlier: {earlier or '-'}")  # fmt: skip
    n = len(questions)
    print(f"{args.half}: {n} developing-story questions")
    print(f"  newest report's answer, newest report cited  {newest_right}/{n} = {newest_right / n:.3f}")
    print(f"  newest report's answer stated                {stated}/{n} = {stated / n:.3f}")
    print(f"  earlier reports shown                        {earlier_shown}/{n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "bench" / "out" / "news-index")
    parser.add_argument("--half", choices=["tune", "report", "all"], default="report")
    parser.add_argument("--misses", action="store_true", help="print every miss")
    parser.add_argument(
        "--set",
        choices=["dev", "time", "developing"],
        default="dev",
        help="the development set, the time questions or the developing-story questions",
    )
    args = parser.parse_args()
    if not (args.index_dir / "CURRENT").exists():
        sys.exit(f"no index in {args.index_dir}: build it with `QA_INDEX_DIR={args.index_dir} .venv/bin/qa index {NEWS}`")
    pipeline = QAPipeline(get_settings(index_dir=args.index_dir, cache_dir=ROOT / ".qa" / "cache"))
    started = time.perf_counter()
    pipeline.warm_up()
    print(
        f"index: {len(pipeline.index.documents)} documents, {pipeline.index.passage_count} passages "
        f"(loaded in {time.perf_counter() - started:.1f} s)"
    )
    if args.set == "time":
        time_questions(pipeline, args)
        return
    if args.set == "developing":
        developing_questions(pipeline, args)
        return
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    chosen = [r for r in rows if args.half == "all" or r["half"] == args.half]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("\n".join(json.dumps(r) for r in chosen) + "\n")
    report = evaluate_file(pipeline, Path(fh.name))
    Path(fh.name).unlink()
    print(
        f"half {args.half}: answered correctly {report.answer_accuracy:.3f} ({report.answered_correctly}/{report.answerable}), "
        f"declined correctly {report.abstention_accuracy:.3f} ({report.declined_correctly}/{report.unanswerable}), "
        f"recall@5 {report.recall_at_5:.3f}"
    )
    pipeline.loaded.retriever.embed.clear()  # every question is encoded again: no cache hits
    latencies = [pipeline.ask(row["question"]).took_ms for row in chosen]
    print(
        f"latency per question, warm, in process: p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms "
        f"({len(latencies)} questions)"
    )
    reader = pipeline.loaded.answerer.reader
    if reader is not None:  # the reader's own share: a forward pass per window
        answerer, retriever = pipeline.loaded.answerer, pipeline.loaded.retriever
        reads, sizes = [], []
        for row in chosen:
            hits = retriever.run(row["question"], pipeline.settings.top_k)
            candidates = answerer.extractor.run(hits)
            scored = answerer.scorer.run(answerer.analyzer.run(row["question"]), candidates, answerer.idf)
            windows = reader_input(scored.ranked, candidates, reader.decision.read_sentences).windows
            started = time.perf_counter()
            reader.reader.run(row["question"], windows)
            reads.append(1000 * (time.perf_counter() - started))
            sizes.append(len(windows))
        print(
            f"reader alone: p50 {percentile(reads, 0.5):.1f} ms, p95 {percentile(reads, 0.95):.1f} ms per question; "
            f"{sum(sizes) / len(sizes):.2f} windows on average (at most {max(sizes)})"
        )
    if args.misses:
        for miss in report.misses:
            print(f"miss {miss.id}: {miss.question} — {miss.reason}\n   expected {miss.expected}; got {miss.got}")


if __name__ == "__main__":
    main()
