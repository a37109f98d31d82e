"""Small runs of every benchmark script, so they keep working (the real runs are in the README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest
from conftest import ROOT

SHARED_BENCH = ROOT.parent / "shared" / "bench"
needs_data = pytest.mark.skipif(not SHARED_BENCH.exists(), reason="../shared/bench not present")


def bench(*args: str, timeout: float = 600) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


@needs_data
def test_quality_smoke():
    data = json.loads(bench("bench/quality.py", "--limit", "40", "--sample", "40", "--json"))
    assert set(data["scifact"]["ndcg@10"]) == {"hybrid", "bm25", "dense"}
    assert 0 < data["scifact"]["ndcg@10"]["hybrid"] <= 1
    assert 0 < data["squad"]["recall@5"] <= 1 and data["squad"]["seed"] == 13


@needs_data
def test_scale_smoke():
    out = bench("bench/scale.py", "--sizes", "3000", "--queries", "10", "--pool", "300")
    row = [line for line in out.splitlines() if line.startswith("| 3,000")]
    assert row and "recall" in out


@needs_data
def test_latency_smoke():
    out = bench("bench/latency.py", "--repeat", "1", "--throughput-docs", "20")
    assert "warm query latency" in out and "cold `qa ask`" in out and "passages/s" in out


def test_load_smoke():
    out = bench("bench/load.py", "--seconds", "2", "--clients", "4")
    assert "0 errors" in out and "requests/s" in out


@needs_data
def test_encoders_smoke():
    out = bench("bench/encoders.py", "--passages", "40")
    assert "| onnx-int8 |" in out and "| torch |" in out


@needs_data
def test_quality_squad_into_postgresql_keeps_its_two_indexes_apart(pg_cluster):
    """The SQuAD run's second index (articles 0-23) gets a database of its own instead of replacing the first."""
    url = pg_cluster.create_database("quality_smoke")
    env = {**os.environ, "QA_STORE_URL": url}
    result = subprocess.run(
        [sys.executable, "bench/quality.py", "--only", "squad", "--limit", "40", "--sample", "20", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    squad = json.loads(result.stdout)["squad"]
    assert squad["recall@5"] >= 0.5  # asked of the evaluation half's index, not of the one built after it
    with psycopg.connect(url) as conn:
        main_docs = {r[0] for r in conn.execute("SELECT doc_id FROM qa_documents")}
    with psycopg.connect(url.rsplit("/", 1)[0] + "/quality_smoke_other") as conn:
        other_docs = {r[0] for r in conn.execute("SELECT doc_id FROM qa_documents")}
    assert len(main_docs) == squad["documents"] and other_docs and not main_docs & other_docs
