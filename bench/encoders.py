"""Encoder runtimes compared on the same passages: throughput and agreement with sentence-transformers.

    .venv/bin/python bench/encoders.py [--passages 1000]

Encodes the same SQuAD passages (600 characters at most, as indexed) with each backend, after a
warm-up batch, and prints passages/s and the cosine similarity of each backend's embeddings to the
torch (sentence-transformers) reference: minimum and mean. Retrieval metrics per backend come from
bench/quality.py --backend NAME.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embeddings.encoder import BACKENDS, load_encoder  # noqa: E402
from qa.ingest.chunking import chunk_document  # noqa: E402

SQUAD = ROOT.parent / "shared" / "bench" / "squad" / "dev-v1.1.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1000)
    args = parser.parse_args()
    paragraphs = [p["context"] for a in json.loads(SQUAD.read_text())["data"] for p in a["paragraphs"]]
    passages = [p.text for i, text in enumerate(paragraphs) for p in chunk_document(str(i), text, 600)][: args.passages]
    results = {}
    for backend in ["torch", *[b for b in BACKENDS if b != "torch"]]:
        encoder = load_encoder("sentence-transformers/all-MiniLM-L6-v2", backend, ROOT / ".qa" / "cache")
        encoder.encode(passages[:32])
        started = time.perf_counter()
        vectors = encoder.encode(passages)
        results[backend] = (len(passages) / (time.perf_counter() - started), vectors)
    reference = results["torch"][1]
    print(f"{len(passages)} SQuAD passages (≤ 600 chars)")
    print("| backend | passages/s | cosine to torch: min | mean |")
    print("|---|---|---|---|")
    for backend, (rate, vectors) in results.items():
        cosine = (vectors * reference).sum(axis=1)
        print(f"| {backend} | {rate:.1f} | {cosine.min():.4f} | {cosine.mean():.4f} |")


if __name__ == "__main__":
    main()
