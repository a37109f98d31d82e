"""Incremental indexing, crash safety, one writer at a time, damaged files, live reload."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from helpers import CACHE_DIR, Backend, CountingEncoder, Server, qa_index, run_qa, write_town

from qa.config import get_settings
from qa.errors import StoreError
from qa.ingest.sources import index_root, load_documents
from qa.pipeline import QAPipeline
from qa.stores.local.index import build_index, load_index
from qa.stores.local.snapshots import Snapshots

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def index_folder(folder: Path, store: Snapshots, encoder):
    docs = list(load_documents([folder], lambda m: None))
    with store.lock():
        return build_index(docs, encoder, store, 600, scanned_roots=[index_root(folder)])


@pytest.mark.slow
def test_incremental_run_on_a_1000_document_corpus(tmp_path, encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(1000):
        write_town(corpus, i)
    store = Snapshots(tmp_path / "index")
    counting = CountingEncoder(encoder)
    first = index_folder(corpus, store, counting)
    assert len(first.added) == 1000 and counting.count == first.passages

    counting.count = 0
    again = index_folder(corpus, store, counting)
    assert counting.count == 0 and again.encoded == 0
    assert len(again.unchanged) == 1000 and not again.changed and again.version == first.version

    write_town(corpus, 17, month="October")
    (corpus / "town-0500.txt").unlink()
    changed = index_folder(corpus, store, counting)
    assert changed.updated == ["town-0017"] and changed.removed == ["town-0500"] and len(changed.unchanged) == 998
    assert counting.count == changed.encoded == 1  # only the one new passage of the changed document
    index = load_index(store, MODEL, encoder.backend)
    assert "town-0500" not in index.documents and "October" in index.documents["town-0017"].text
    pipeline = QAPipeline(get_settings(index_dir=store.root, cache_dir=CACHE_DIR), encoder=encoder)
    assert "October" in str(pipeline.ask("When will the river bridge of Town17 reopen?").answer)


def test_documents_from_other_folders_are_kept(tmp_path, encoder):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_town(a, 1)
    write_town(b, 2)
    store = Snapshots(tmp_path / "index")
    index_folder(a, store, encoder)
    report = index_folder(b, store, encoder)
    assert report.added == ["town-0002"] and report.removed == []
    assert set(load_index(store, MODEL, encoder.backend).documents) == {"town-0001", "town-0002"}


def test_docs_and_remove_commands(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        write_town(corpus, i)
    index_dir = str(tmp_path / "index")
    assert run_qa("index", str(corpus), "--index-dir", index_dir).returncode == 0
    listed = json.loads(run_qa("docs", "--json", "--index-dir", index_dir).stdout)
    assert [(d["doc_id"], d["passages"]) for d in listed["documents"]] == [(f"town-000{i}", 1) for i in range(3)]
    removed = run_qa("remove", "town-0001", "--index-dir", index_dir)
    assert removed.returncode == 0 and "removed 1" in removed.stderr
    listed = json.loads(run_qa("docs", "--json", "--index-dir", index_dir).stdout)
    assert [d["doc_id"] for d in listed["documents"]] == ["town-0000", "town-0002"]
    unknown = run_qa("remove", "nope", "--index-dir", index_dir)
    assert unknown.returncode == 1 and "no document 'nope'" in unknown.stderr


# ---- crash safety -------------------------------------------------------------------------------

VARIANTS = {"a": "March", "b": "October"}
QUESTIONS = ["When will the river bridge of Town3 reopen?", "How much did the repairs in Town40 cost?"]


def make_variant(folder: Path, variant: str, n: int = 60) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_town(folder, i, VARIANTS[variant])


def answers(index_dir: Path, encoder) -> list[dict]:
    pipeline = QAPipeline(get_settings(index_dir=index_dir, cache_dir=CACHE_DIR), encoder=encoder)
    return [pipeline.ask(q).model_dump(exclude={"took_ms"}) for q in QUESTIONS]


def backend_answers(backend: Backend, encoder) -> list[dict]:
    return [backend.pipeline(encoder).ask(q).model_dump(exclude={"took_ms"}) for q in QUESTIONS]


# Spread from 30% to 90% of a run's length: the first second or so of a run loads its models and
# writes nothing, so earlier points would only repeat the 30% one. Each run re-indexes all 60
# documents (every one changes between the variants): 27 s of CPU for each of the two tests, against
# 35-40 s with 120. A run is then about half start-up, so the 30% point falls in it (as it did with
# 120 on a quiet machine) and the later ones past it, in the indexing itself.
KILL_POINTS = 3


@pytest.mark.slow
def test_sigkill_at_any_point_leaves_a_loadable_index(tmp_path, encoder, new_backend):
    """Both backends: a snapshot directory (atomic rename) and PostgreSQL (one transaction per run)."""
    corpora = {v: tmp_path / f"corpus-{v}" for v in VARIANTS}
    for variant, folder in corpora.items():
        make_variant(folder, variant)
    clean = new_backend()
    clean.index([corpora["b"]], encoder)
    expected = {"b": backend_answers(clean, encoder)}  # "a": the live index's first, uninterrupted run below
    # The corpus folder name differs per variant, so copy the chosen variant into one live folder.
    live = tmp_path / "live"
    backend = new_backend()

    def use(variant: str) -> None:
        live.mkdir(exist_ok=True)
        for path in corpora[variant].iterdir():
            (live / path.name).write_text(path.read_text())

    use("a")
    started = time.monotonic()
    assert qa_index(live, env=backend.env).wait(timeout=300) == 0
    full_run = time.monotonic() - started
    expected["a"] = backend_answers(backend, encoder)
    assert expected["a"] != expected["b"]
    state = "a"
    kills, attempts = 0, 0
    while kills < KILL_POINTS and attempts < 2 * KILL_POINTS:  # bounded; a run that beat its kill point is tried again
        point = kills
        attempts += 1
        target = "b" if state == "a" else "a"
        use(target)
        process = qa_index(live, env=backend.env)
        time.sleep(full_run * (0.3 + 0.6 * point / (KILL_POINTS - 1)))
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        # Whatever happened, the index loads and answers like a clean build of one of the two states.
        got = backend_answers(backend, encoder)
        assert got in (expected["a"], expected["b"]), f"kill point {point}: index answers like neither state"
        backend.wait_writer_gone()
        started = time.monotonic()
        finish = qa_index(live, env=backend.env)
        assert finish.wait(timeout=300) == 0, finish.communicate()[1].decode()
        if killed:  # the finishing run redid the killed one's work: kill points follow its length
            full_run = time.monotonic() - started
        assert backend_answers(backend, encoder) == expected[target], f"kill point {point}: the next run did not finish the job"
        state = target
    assert kills >= KILL_POINTS - 1, f"only {kills} of {attempts} runs were still going when killed"
    if backend.kind == "local":
        leftovers = [p.name for p in Path(backend.url).glob("v-*.tmp")]
        assert leftovers == []


def lock_is_held(index_dir: Path) -> bool:
    import fcntl

    lock = index_dir / ".lock"
    if not lock.exists():
        return False
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


@pytest.mark.slow
def test_a_second_writer_is_turned_away(tmp_path):
    corpus = tmp_path / "corpus"
    make_variant(corpus, "a", n=150)
    index_dir = tmp_path / "index"
    first = qa_index(corpus, index_dir)
    for _ in range(400):  # bounded wait until the first writer holds the lock
        if first.poll() is not None or lock_is_held(index_dir):
            break
        time.sleep(0.05)
    assert first.poll() is None, "the first run finished before the second could start"
    second = run_qa("index", str(corpus), "--index-dir", str(index_dir))
    assert first.wait(timeout=300) == 0
    assert second.returncode == 1 and "another `qa index` is writing" in second.stderr


# ---- damaged files ------------------------------------------------------------------------------


def damage_cases():
    def truncate(snapshot: Path) -> Path:
        path = snapshot / "vectors.npy"
        path.write_bytes(path.read_bytes()[:100])
        return path

    def garble_manifest(snapshot: Path) -> Path:
        (snapshot / "manifest.json").write_text("{not json")
        return snapshot / "manifest.json"

    def future_format(snapshot: Path) -> Path:
        manifest = json.loads((snapshot / "manifest.json").read_text())
        (snapshot / "manifest.json").write_text(json.dumps({**manifest, "format": 99}))
        return snapshot / "manifest.json"

    def delete_passages(snapshot: Path) -> Path:
        (snapshot / "passages.jsonl").unlink()
        return snapshot / "passages.jsonl"

    def garble_documents(snapshot: Path) -> Path:
        path = snapshot / "documents.jsonl"
        data = path.read_bytes()
        path.write_bytes(b"x" * len(data))  # same size, unreadable content
        return path

    return [truncate, garble_manifest, future_format, delete_passages, garble_documents]


@pytest.mark.parametrize("damage", damage_cases(), ids=lambda f: f.__name__)
def test_damaged_index_gives_a_clear_error_and_rebuild_repairs_it(tmp_path, encoder, damage):
    corpus = tmp_path / "corpus"
    make_variant(corpus, "a", n=3)
    index_dir = tmp_path / "index"
    build_index(load_documents([corpus], lambda m: None), encoder, Snapshots(index_dir), 600)
    damaged = damage(Snapshots(index_dir).current().path)
    for command in (["ask", "When will the river bridge of Town1 reopen?"], ["index", str(corpus)]):
        result = run_qa(*command, "--index-dir", str(index_dir))
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert damaged.name in result.stderr and "qa index --rebuild" in result.stderr
    assert run_qa("index", "--rebuild", str(corpus), "--index-dir", str(index_dir)).returncode == 0
    assert (
        "March"
        in json.loads(
            run_qa("ask", "--json", "When will the river bridge of Town1 reopen?", "--index-dir", str(index_dir)).stdout
        )["answer"]
    )


def test_store_refuses_a_missing_current_snapshot(tmp_path):
    store = Snapshots(tmp_path)
    (tmp_path / "CURRENT").write_text("v-gone")
    with pytest.raises(StoreError, match="manifest.json is missing"):
        store.current()


# ---- live reload --------------------------------------------------------------------------------


@pytest.mark.slow
def test_server_switches_to_a_new_index_without_failing_requests(tmp_path, encoder):
    corpus = tmp_path / "corpus"
    make_variant(corpus, "a", n=5)
    index_dir = tmp_path / "index"
    build_index(load_documents([corpus], lambda m: None), encoder, Snapshots(index_dir), 600)
    server = Server(["serve", "--index-dir", str(index_dir)])
    question = "When will the river bridge of Town99 reopen?"
    seen: list[tuple[float, str | None]] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(20000):  # bounded
                if stop.is_set():
                    return
                for q in (question, "When will the river bridge of Town1 reopen?"):
                    try:
                        response = client.post(server.url + "/ask", json={"question": q})
                        if response.status_code != 200:
                            failures.append(str(response.status_code))
                        elif q == question:
                            seen.append((time.monotonic(), response.json()["answer"]))
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                health = client.get(server.url + "/healthz")
                if health.status_code != 200:
                    failures.append(f"healthz {health.status_code}")
                stop.wait(0.02)  # dozens of requests a second, leaving the indexer a core

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        versions = [httpx.get(server.url + "/healthz").json()["index_version"]]
        for month in ("July", "December"):
            write_town(corpus, 99, month)
            result = run_qa("index", str(corpus), "--index-dir", str(index_dir))
            assert result.returncode == 0, result.stderr
            published = time.monotonic()
            for _ in range(100):  # bounded wait for the switch
                answered = [a for t, a in seen if t > published + 1.5]
                if answered and month in (answered[-1] or ""):
                    break
                time.sleep(0.1)
            assert any(month in (a or "") for t, a in seen if t > published), f"never switched to {month}"
            versions.append(httpx.get(server.url + "/healthz").json()["index_version"])
    finally:
        stop.set()
        worker.join(timeout=30)
        server.stop()
    assert failures == []
    assert len(set(versions)) == 3
    assert [a for _, a in seen][0] is None  # Town99 did not exist before the first update
