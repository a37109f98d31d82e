"""What test modules share: paths, the `qa` command (in process or as a real process), throwaway
index stores, invented corpora. (Slack's side of a conversation with the bot is in fake_slack.py.)

Test modules import these from here, never from one another or from conftest.py (which holds the
fixtures), so a helper has one definition and a test module can be read on its own.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString

import httpx
import psycopg
from processes import free_port, stop_process, wait_until
from typer.testing import CliRunner

from embeddings.encoder import Encoder
from qa.cli import app as cli_app
from qa.config import Settings, get_settings
from qa.ingest.sources import index_root, load_documents, make_document
from qa.pipeline import QAPipeline
from qa.stores import open_store
from qa.stores.base import BuildReport, Store
from qa.stores.local.index import build_index
from qa.stores.local.snapshots import Snapshots

if TYPE_CHECKING:
    from pgcluster import PgCluster

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".qa" / "cache"  # the exported ONNX model is reused across runs
SHARED_EVAL = ROOT.parent / "shared" / "eval" / "questions.jsonl"
EXTRA_EVAL = ROOT / "tests" / "data" / "extra_questions.jsonl"
SHOIGU = "When did Iran host Shoigu?"  # the bundled corpus's question with one well-known answer
XSS_PAYLOAD = '<script>window.__pwned = 1; alert("xss")</script><img src=x onerror="window.__pwned=2">'
# The answer object's JSON fields (qa/schema.py), the contract every front end returns: written out,
# not read from the model, so that a field added or dropped by accident fails the tests.
ANSWER_FIELDS = frozenset(
    {
        "question",
        "answer",
        "answered",
        "message",
        "citations",
        "took_ms",
        "short_answer",
        "headline",
        "resolved",
        "earlier",
        "short_start",
        "short_end",
        "kind",
        "confidence",
    }
)


# ---- the `qa` command ---------------------------------------------------------------------------


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


def qa_command(*args: str) -> list[str]:
    """The real `qa` executable's command line (for tests about the process itself)."""
    return [sys.executable, "-m", "qa.cli", *args]


def qa_env(env: dict | None = None) -> dict[str, str]:
    return {**os.environ, "QA_CACHE_DIR": str(CACHE_DIR), **(env or {})}


def qa_process(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the real `qa` executable to completion."""
    return subprocess.run(qa_command(*args), capture_output=True, text=True, env=qa_env(env), timeout=timeout, cwd=ROOT)


def qa_index(corpus: Path, index_dir: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    """Start a real `qa index` process (to be killed, or raced against); its stderr is a pipe."""
    where = ["--index-dir", str(index_dir)] if index_dir is not None else []
    return subprocess.Popen(
        qa_command("index", str(corpus), *where), cwd=ROOT, env=qa_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


class Server:
    """A real `qa` server process on a loopback port; what it prints goes to a log file."""

    def __init__(self, args: list[str], env: dict | None = None, health_path: str = "/healthz") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"qa-server-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            qa_command(*args, "--host", "127.0.0.1", "--port", str(self.port)),
            cwd=ROOT,
            env=qa_env(env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: self._answers(health_path), 60, f"`qa {args[0]}` answering on {self.url}", interval=0.1)
        except Exception:
            self.stop()
            raise

    def _answers(self, path: str) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited early: {self.output()}")
        try:
            return httpx.get(self.url + path, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ---- index stores -------------------------------------------------------------------------------

DATABASES = itertools.count(1)  # PostgreSQL database names, unique for the session


@dataclass
class Backend:
    """One index store for a test: `url` is what QA_STORE_URL is set to (a directory or postgresql://)."""

    kind: str
    url: str
    cluster: PgCluster | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"QA_STORE_URL": self.url}

    def settings(self, **overrides) -> Settings:
        return get_settings(store_url=self.url, cache_dir=CACHE_DIR, **overrides)

    def store(self) -> Store:
        return open_store(self.settings())

    def pipeline(self, encoder: Encoder, **overrides) -> QAPipeline:
        return QAPipeline(self.settings(**overrides), encoder=encoder)

    def index(self, folders: list[Path], encoder: Encoder, **kwargs) -> BuildReport:
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
        from qa.stores.postgres.store import WRITER_LOCK

        holders = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 1"
        lock = (WRITER_LOCK >> 32, WRITER_LOCK & 0xFFFFFFFF)
        with psycopg.connect(self.url, autocommit=True) as conn:
            wait_until(lambda: scalar(conn, holders, lock) == 0, timeout, "the killed writer's session releasing the lock")


def scalar(conn: psycopg.Connection, query: LiteralString, params: tuple | dict = ()) -> Any:
    """The one value a one-row query returns (psycopg's `fetchone()` may be None: here that fails, naming the query)."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, f"no row from {query}"
    return row[0]


# ---- invented corpora ---------------------------------------------------------------------------


def invented_pipeline(
    articles: dict[str, tuple[str, str]], path: Path, encoder: Encoder, published: dict[str, str] | None = None, **settings: Any
) -> QAPipeline:
    """The real pipeline over invented articles ({doc_id: (title, text)}, publication dates from
    `published`) indexed into `path`; `settings` override the defaults."""
    dates = published or {}
    docs = [
        make_document(doc_id, text, {"title": title} | ({"published": dates[doc_id]} if doc_id in dates else {}), None)
        for doc_id, (title, text) in articles.items()
    ]
    build_index([d for d in docs if d], encoder, Snapshots(path), 600)
    defaults: dict[str, Any] = {"index_dir": path, "cache_dir": CACHE_DIR, "top_k": 5}
    return QAPipeline(get_settings(**(defaults | settings)), encoder=encoder)


def write_town(folder: Path, i: int, month: str = "March") -> None:
    """One invented article about Town{i}'s bridge: as many distinct, answerable documents as a test needs."""
    (folder / f"town-{i:04d}.txt").write_text(
        f"Bridge works in Town{i}\n"
        f"Engineers in Town{i} said on Monday that the river bridge of Town{i} will reopen in {month} after repairs.\n"
        f"The repairs in Town{i} cost {i + 1} million dollars, the Town{i} council said in a statement.\n"
    )


# Publication dates of the invented harbour reports (`write_dated_corpus`): twelve in 2023, eight in
# 2024 plus one dated by month only (its first day), one from 2025 as a timestamp, two undated.
DATED = {
    **{f"port-{i:02d}": f"2023-{i + 1:02d}-10" for i in range(12)},
    **{f"port-{i:02d}": f"2024-{i - 11:02d}-20" for i in range(12, 20)},
    "port-20": None,
    "port-21": None,
    "port-22": "2024-06",
    "port-23": "2025-02-03T09:30:00Z",
}


def write_dated_corpus(folder: Path) -> Path:
    """Invented harbour reports with explicit publication dates (`DATED`), one JSONL file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for doc_id, published in DATED.items():
        i = int(doc_id.split("-")[1])
        text = (
            f"The harbour of Port{i} handled a record {i + 2} million tonnes of cargo this year, the Port{i} "
            f"harbour authority said. Dockworkers in Port{i} unloaded grain and steel from {i + 20} ships."
        )
        record = {"id": doc_id, "title": f"Record cargo at the Port{i} harbour", "text": text}
        lines.append(json.dumps(record | ({"published": published} if published else {})))
    (folder / "harbours.jsonl").write_text("\n".join(lines) + "\n")
    return folder


class CountingEncoder:
    """The real encoder, counting how many passages it was asked to encode."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.count = inner, 0
        self.model_name, self.backend, self.dim = inner.model_name, inner.backend, inner.dim

    def encode(self, texts, batch_size=32, progress=None):
        self.count += len(texts)
        return self.inner.encode(texts, batch_size, progress)
