"""Small runs of every benchmark script, so they keep working (the real runs are in the README)."""

from __future__ import annotations

import json
import subprocess
import sys

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
