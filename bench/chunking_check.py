"""Passage chunking, before and after the speed-up: identical passages, and CPU time of each.

    .venv/bin/python bench/chunking_check.py                # news corpus + bundled corpus, as indexing chunks them
    .venv/bin/python bench/chunking_check.py --raw          # also every news article's text as stored (before cleaning)
    .venv/bin/python bench/chunking_check.py --limit 300    # quick run: the first 300 news documents

Every document is chunked by the implementation this change replaced (`old_chunk_document`:
pysbd's own `Segmenter.segment`, with its modules on the plain `re` module, as they were) and by
`qa.ingest.chunking.chunk_document`; the passages (ids, offsets, text, sentence offsets) must be
equal. The two run alternately, document by document, in one process, so that a shared, busy CPU
weighs on both alike; the times are CPU seconds (`time.process_time`) spent inside each. Exits 1
if any document differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import pysbd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import BUNDLED_CORPUS, Settings  # noqa: E402
from qa.ingest import chunking  # noqa: E402
from qa.ingest.chunking import Passage, chunk_document, split_sentences  # noqa: E402
from qa.ingest.sources import load_documents  # noqa: E402

NEWS = Path("/work/shared/bench/news/articles.jsonl")


# --- the implementation before this change: pysbd's own segmenter, on the plain `re` module ---


@lru_cache(maxsize=1)
def _old_segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def old_chunk_document(doc_id: str, text: str, max_chars: int) -> list[Passage]:
    """The packing is the same code; the sentences are pysbd's own `Segmenter.segment`."""
    return chunk_document(doc_id, text, max_chars, split=lambda t: split_sentences(t, _old_segmenter().segment))


@contextmanager
def plain_pysbd() -> Iterator[None]:
    """pysbd as it was before this change: its modules call the `re` module itself."""
    stand_ins = {module: module.re for module in chunking._PYSBD_MODULES}
    for module in stand_ins:
        module.re = re
    try:
        yield
    finally:
        for module, stand_in in stand_ins.items():
            module.re = stand_in


# --- the check ---


def documents(limit: int | None, raw: bool) -> Iterator[tuple[str, str, str]]:
    """(set, doc id, text): the cleaned documents indexing chunks, then (with `raw`) the stored article texts."""
    skipped: list[str] = []
    news = load_documents([NEWS], skipped.append)
    for i, doc in enumerate(news):
        if limit is not None and i >= limit:
            break
        yield "news", doc.doc_id, doc.text
    for doc in load_documents([BUNDLED_CORPUS], skipped.append):
        yield "bundled", doc.doc_id, doc.text
    if raw:
        with NEWS.open() as lines:
            for i, line in enumerate(lines):
                if limit is not None and i >= limit:
                    break
                article = json.loads(line)
                yield "news-raw", str(article.get("id", i)), article.get("text") or ""
    for message in skipped:
        print(f"  (loader: {message})", file=sys.stderr)


def timed(
    function: Callable[[str, str, int], list[Passage]], doc_id: str, text: str, max_chars: int
) -> tuple[list[Passage], float]:
    start = time.process_time()
    passages = function(doc_id, text, max_chars)
    return passages, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N news documents (and N raw articles)")
    parser.add_argument("--raw", action="store_true", help="also chunk every news article's stored text, uncleaned")
    parser.add_argument("--max-chars", type=int, default=Settings.model_fields["max_passage_chars"].default)
    args = parser.parse_args()

    counts: dict[str, dict[str, int]] = {}
    cpu = {"old": 0.0, "new": 0.0}
    passages_total = 0
    differ: list[str] = []
    for n, (kind, doc_id, text) in enumerate(documents(args.limit, args.raw)):
        # Alternate which goes first, so that neither always finds the CPU caches the other left.
        order = ("old", "new") if n % 2 == 0 else ("new", "old")
        result: dict[str, list[Passage]] = {}
        for which in order:
            if which == "old":
                with plain_pysbd():
                    result["old"], seconds = timed(old_chunk_document, doc_id, text, args.max_chars)
            else:
                result["new"], seconds = timed(chunk_document, doc_id, text, args.max_chars)
            cpu[which] += seconds
        tally = counts.setdefault(kind, {"documents": 0, "passages": 0, "sentences": 0, "identical": 0})
        tally["documents"] += 1
        tally["passages"] += len(result["old"])
        tally["sentences"] += sum(len(p.sentences) for p in result["old"])
        passages_total += len(result["old"])
        if result["old"] == result["new"]:  # dataclass equality: id, doc_id, offsets, text, sentences, spans
            tally["identical"] += 1
        else:
            differ.append(f"{kind}:{doc_id}")

    for kind, tally in counts.items():
        print(
            f"{kind:9} {tally['documents']:6,} documents, {tally['passages']:7,} passages, {tally['sentences']:8,} sentences: "
            f"{tally['identical']:,} documents with identical passages"
        )
    old_ms, new_ms = (1000 * cpu[w] / max(passages_total, 1) for w in ("old", "new"))
    print(
        f"CPU per passage ({passages_total:,} passages, max_chars={args.max_chars}): old {old_ms:.2f} ms, new {new_ms:.2f} ms "
        f"({old_ms / new_ms:.2f}x); in all old {cpu['old']:.1f} s, new {cpu['new']:.1f} s"
    )
    if differ:
        print(f"DIFFERENT: {len(differ)} documents, e.g. {', '.join(differ[:10])}")
        sys.exit(1)
    print("identical: every document")


if __name__ == "__main__":
    main()
