"""Shared fixtures: one encoder and one index of the bundled corpus for the whole session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from embeddings.encoder import load_encoder
from embeddings.store import IndexStore
from qa.config import BUNDLED_CORPUS, get_settings
from qa.corpus import load_documents
from qa.index import build_index
from qa.pipeline import QAPipeline

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".qa" / "cache"  # the exported ONNX model is reused across runs
SHARED_EVAL = ROOT.parent / "shared" / "eval" / "questions.jsonl"
EXTRA_EVAL = ROOT / "tests" / "data" / "extra_questions.jsonl"


@pytest.fixture(scope="session")
def encoder():
    return load_encoder("sentence-transformers/all-MiniLM-L6-v2", "onnx", CACHE_DIR)


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, encoder) -> Path:
    path = tmp_path_factory.mktemp("index")
    warnings: list[str] = []
    build_index(load_documents([BUNDLED_CORPUS], warnings.append), encoder, IndexStore(path), 600)
    assert not warnings
    return path


@pytest.fixture(scope="session")
def pipeline(index_dir, encoder) -> QAPipeline:
    return QAPipeline(get_settings(index_dir=index_dir, cache_dir=CACHE_DIR), encoder=encoder)


def run_qa(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the real `qa` command line in a subprocess."""
    full_env = {**os.environ, "QA_CACHE_DIR": str(CACHE_DIR), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args], input=input, capture_output=True, text=True, env=full_env,
        timeout=timeout, cwd=ROOT,
    )
