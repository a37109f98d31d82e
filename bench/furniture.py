"""How fast in-line furniture removal is, what it removes, and what it keeps, on the news corpus.

    .venv/bin/python bench/furniture.py [--path ../shared/bench/news/articles.jsonl] [--sample 30]

Prints documents/s for learning + cleaning, removed segments by reason, and a deterministic sample
(seed 7) per outlet of removed segments and of kept first sentences, for a human to check both ways.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.ingest.boilerplate import Boilerplate, segments
from qa.ingest.cleaning import clean_text
from qa.ingest.sources import group_of

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "news" / "articles.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", type=Path, default=DEFAULT)
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--shape-only", action="store_true", help="no corpus-level learning")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.path.read_text(encoding="utf-8").splitlines() if line.strip()]
    groups = [group_of(r.get("url"), str(args.path)) for r in rows]

    start = time.perf_counter()
    boilerplate = None if args.shape_only else Boilerplate.learn(zip(groups, (r["text"] for r in rows), strict=True))
    learnt = time.perf_counter()
    cleaned = [clean_text(r["text"], boilerplate, g) for r, g in zip(rows, groups, strict=True)]
    done = time.perf_counter()
    print(
        f"{len(rows)} documents: learn {learnt - start:.1f} s, clean {done - learnt:.1f} s, "
        f"{len(rows) / (done - start):.0f} docs/s overall"
    )
    if boilerplate is not None:
        print("learnt (segments, shingles) per group:", boilerplate.stats())
    chars_in = sum(len(r["text"]) for r in rows)
    chars_out = sum(len(c.text) for c in cleaned)
    print(f"characters kept: {chars_out / chars_in:.1%}")

    by_reason: Counter[str] = Counter()
    removed: dict[str, list[str]] = defaultdict(list)
    firsts: dict[str, list[str]] = defaultdict(list)
    for group, result in zip(groups, cleaned, strict=True):
        for reason, text in result.removed:
            by_reason[reason.split(":")[0]] += 1
            removed[group].append(f"[{reason[:24]}] {text[:160]}")
        spans = segments(result.text.split("\n")[0]) if result.text else []
        if spans:
            firsts[group].append(result.text[spans[0][0] : spans[0][1]][:200])
    print("\nremoved segments by reason:")
    for reason, n in by_reason.most_common():
        print(f"  {n:6d}  {reason}")
    rng = random.Random(7)
    for group in sorted(set(groups)):
        print(f"\n=== {group}: {len(removed[group])} removed")
        for text in rng.sample(sorted(removed[group]), min(args.sample, len(removed[group]))):
            print("  -", text)
        print(f"--- {group}: kept first sentences")
        for text in rng.sample(sorted(firsts[group]), min(args.sample, len(firsts[group]))):
            print("  +", text)


if __name__ == "__main__":
    main()
