"""Validate the news development questions against the news corpus and print their counts.

    python3 bench/check_news_questions.py [--questions bench/data/news_dev_questions.jsonl]
                                          [--corpus ../shared/bench/news/articles.jsonl]

Checks: ids are unique; every record has the expected fields and values; an answerable question
lists at least one answer and one document, every listed document exists in the corpus, and each
one contains at least one of the answers (case-insensitive substring of title + text); an
unanswerable question lists no answers and no documents. Exits 1 when anything fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"person", "organization", "place", "time", "quantity", "description", "other"}
HALVES = {"tune", "report"}
OUTLETS = ("aljazeera", "tass", "abcnews", "rte", "dw", "huffingtonpost", "chinadaily", "bbc", "cnn")


def outlet(url: str) -> str:
    host = url.split("//", 1)[-1].split("/", 1)[0]
    return next((name for name in OUTLETS if name in host), host)


def check(questions: list[dict], corpus: dict[str, dict]) -> list[str]:
    errors = []
    ids = Counter(q.get("id") for q in questions)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for q in questions:
        qid = q.get("id")
        missing = {"id", "question", "answers", "docs", "answerable", "kind", "half"} - q.keys()
        if missing:
            errors.append(f"{qid}: missing fields {sorted(missing)}")
            continue
        if q["kind"] not in KINDS:
            errors.append(f"{qid}: unknown kind {q['kind']!r}")
        if q["half"] not in HALVES:
            errors.append(f"{qid}: unknown half {q['half']!r}")
        if not q["answerable"]:
            if q["answers"] or q["docs"]:
                errors.append(f"{qid}: unanswerable but lists answers or docs")
            continue
        if not q["answers"] or not q["docs"]:
            errors.append(f"{qid}: answerable but lists no answers or no docs")
        for doc_id in q["docs"]:
            doc = corpus.get(doc_id)
            if doc is None:
                errors.append(f"{qid}: unknown doc {doc_id}")
                continue
            text = (doc["title"] + " " + doc["text"]).lower()
            if not any(a.lower() in text for a in q["answers"]):
                errors.append(f"{qid}: {doc_id} contains none of {q['answers']}")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=ROOT / "bench/data/news_dev_questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/bench/news/articles.jsonl")
    args = parser.parse_args()

    questions = [json.loads(line) for line in args.questions.open(encoding="utf-8") if line.strip()]
    corpus = {}
    with args.corpus.open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            corpus[doc["id"]] = doc

    errors = check(questions, corpus)
    for e in errors:
        print("ERROR", e)

    answerable = [q for q in questions if q.get("answerable")]
    print(f"{len(questions)} questions: {len(answerable)} answerable, {len(questions) - len(answerable)} unanswerable")
    for half in sorted(HALVES, reverse=True):
        rows = [q for q in questions if q.get("half") == half]
        n_ans = sum(q.get("answerable", False) for q in rows)
        kinds = Counter(q.get("kind") for q in rows if q.get("answerable"))
        print(
            f"  {half}: {n_ans} answerable, {len(rows) - n_ans} unanswerable; answerable by kind "
            + ", ".join(f"{k} {kinds[k]}" for k in sorted(kinds))
        )
    per_outlet = Counter(o for q in answerable for o in {outlet(corpus[d]["url"]) for d in q["docs"] if d in corpus})
    print("  answerable questions with a supporting article per outlet: " + ", ".join(f"{o} {per_outlet[o]}" for o in OUTLETS))
    print("OK" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
