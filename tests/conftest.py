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
    settings = get_settings()  # the default model and backend, as the CLI uses them
    return load_encoder(settings.model, settings.backend, CACHE_DIR)


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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A real `qa` server process on a loopback port."""

    def __init__(self, args: list[str], env: dict | None = None, health_path: str = "/healthz") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"qa-server-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", *args, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env={**os.environ, "QA_CACHE_DIR": str(CACHE_DIR), **(env or {})},
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.wait_ready(health_path)

    def wait_ready(self, path: str) -> None:
        import time

        import httpx

        for _ in range(240):  # up to ~60 s
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited early: {self.log.read()}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError("server did not become ready")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def server(index_dir):
    srv = Server(["serve", "--index-dir", str(index_dir)])
    yield srv
    srv.stop()


XSS_PAYLOAD = '<script>window.__pwned = 1; alert("xss")</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture(scope="session")
def xss_index_dir(tmp_path_factory, encoder) -> Path:
    """An index whose only article carries markup and script in its text."""
    corpus = tmp_path_factory.mktemp("xss-corpus")
    (corpus / "evil.txt").write_text(
        "Harbour bridge closes for repairs\n"
        f"The harbour bridge will close on Friday for repairs, the city engineer said {XSS_PAYLOAD} in a statement.\n"
        "Repairs are expected to cost $3 million and to last until the end of the year, officials said.\n"
    )
    path = tmp_path_factory.mktemp("xss-index")
    build_index(load_documents([corpus], lambda m: None), encoder, IndexStore(path), 600)
    return path


@pytest.fixture(scope="session")
def xss_server(xss_index_dir):
    srv = Server(["serve", "--index-dir", str(xss_index_dir)])
    yield srv
    srv.stop()
