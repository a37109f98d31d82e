"""One behaviour, two index backends: the local snapshot directory and PostgreSQL + pgvector.

Every test taking `new_backend` runs once per backend. PostgreSQL is a real server started by
the test session (tests/pgcluster.py); under CI it must start, elsewhere its tests skip loudly.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
from helpers import (
    CACHE_DIR,
    DATABASES,
    DATED,
    SHARED_EVAL,
    Backend,
    CountingEncoder,
    qa_index,
    run_qa,
    scalar,
    write_dated_corpus,
    write_town,
)
from processes import free_port

from qa.config import BUNDLED_CORPUS
from qa.daterange import DateRange, publication_day
from qa.evaluation.questions import evaluate_file
from qa.stores.postgres.schema import LATEST
from qa.text import terms


def town_folder(tmp_path: Path, n: int, month: str = "March") -> Path:
    folder = tmp_path / "towns"
    folder.mkdir(exist_ok=True)
    for i in range(n):
        write_town(folder, i, month)
    return folder


def hits(pipeline, question: str, k: int = 10) -> list[tuple]:
    return [(h.passage.id, h.passage.text, h.score, h.dense, h.bm25) for h in pipeline.loaded.retriever.run(question, k)]


@pytest.fixture(scope="module")
def shared_questions() -> list[str]:
    if not SHARED_EVAL.exists():
        pytest.skip(f"{SHARED_EVAL} not present")
    return [json.loads(line)["question"] for line in SHARED_EVAL.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_bundled_corpus_same_documents_same_scores_same_answers(new_backend, encoder, pipeline, shared_questions):
    """Against the session's local index: identical documents, candidates, raw scores and answers."""
    backend: Backend = new_backend()
    report = backend.index([BUNDLED_CORPUS], encoder)
    assert report.documents == len(pipeline.index.documents) and report.passages == pipeline.index.passage_count
    mine = backend.pipeline(encoder)
    assert {d: doc for d, doc in mine.index.documents.items()} == dict(pipeline.index.documents)
    assert mine.index.passage_counts() == pipeline.index.passage_counts()
    for question in shared_questions:
        assert hits(mine, question) == hits(pipeline, question), question  # exact floats: same score scales
        assert mine.index.passage_freq.get("iran", 0) == pipeline.index.passage_freq.get("iran", 0) > 0
    answers = [mine.ask(q).model_dump(exclude={"took_ms"}) for q in shared_questions]
    assert answers == [pipeline.ask(q).model_dump(exclude={"took_ms"}) for q in shared_questions]
    evaluation = evaluate_file(mine, SHARED_EVAL)
    assert evaluation.misses == [] and evaluation.answer_accuracy == 1.0 and evaluation.abstention_accuracy == 1.0


def test_incremental_add_update_remove(new_backend, encoder, tmp_path):
    backend: Backend = new_backend()
    corpus = town_folder(tmp_path, 40)
    counting = CountingEncoder(encoder)
    first = backend.index([corpus], counting)
    assert len(first.added) == 40 and counting.count == first.passages == 40

    counting.count = 0
    again = backend.index([corpus], counting)
    assert counting.count == 0 and not again.changed and len(again.unchanged) == 40 and again.version == first.version

    write_town(corpus, 17, month="October")
    (corpus / "town-0030.txt").unlink()
    write_town(corpus, 99)
    changed = backend.index([corpus], counting)
    assert changed.updated == ["town-0017"] and changed.removed == ["town-0030"] and changed.added == ["town-0099"]
    assert counting.count == changed.encoded == 2 and changed.version != first.version
    assert (changed.documents, changed.passages) == (40, 40)

    pipeline = backend.pipeline(encoder)
    assert "town-0030" not in pipeline.index.documents and "October" in pipeline.index.documents["town-0017"].text
    assert "October" in str(pipeline.ask("When will the river bridge of Town17 reopen?").answer)
    assert "March" in str(pipeline.ask("When will the river bridge of Town99 reopen?").answer)

    listed = json.loads(run_qa("docs", "--json", env=backend.env).stdout)
    assert sorted(d["doc_id"] for d in listed["documents"]) == sorted(f"town-{i:04d}" for i in [*range(40), 99] if i != 30)
    assert listed["index_version"] == changed.version
    removed = run_qa("remove", "town-0017", "nope", env=backend.env)
    assert removed.returncode == 0 and "removed 1" in removed.stderr and "no document 'nope'" in removed.stderr
    after = backend.pipeline(encoder)
    assert "town-0017" not in after.index.documents and after.index.passage_count == 39
    gone = after.ask("When will the river bridge of Town17 reopen?")
    assert "town-0017" not in {s.doc_id for c in gone.citations for s in c.sources} and "October" not in (gone.answer or "")
    assert after.index.passage_freq.get("october", 0) == 0 and after.index.passage_freq.get("march", 0) == 39


def test_documents_from_other_folders_are_kept(new_backend, encoder, tmp_path):
    backend: Backend = new_backend()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_town(a, 1)
    write_town(b, 2)
    backend.index([a], encoder)
    report = backend.index([b], encoder)
    assert report.added == ["town-0002"] and report.removed == [] and report.documents == 2
    assert set(backend.pipeline(encoder).index.documents) == {"town-0001", "town-0002"}


def test_rebuild_and_index_command(new_backend, tmp_path):
    backend: Backend = new_backend()
    corpus = town_folder(tmp_path, 3)
    result = run_qa("index", str(corpus), env=backend.env)
    assert result.returncode == 0, result.stderr
    assert "added 3" in result.stderr
    again = run_qa("index", "--rebuild", str(corpus), env=backend.env)
    assert again.returncode == 0 and "added 3" in again.stderr and "3 passages embedded" in again.stderr
    answer = json.loads(run_qa("ask", "--json", "When will the river bridge of Town1 reopen?", env=backend.env).stdout)
    assert "March" in answer["answer"]


def test_before_the_first_build_there_is_no_index(new_backend, encoder):
    """Both backends say "no index yet" with one class, `NoIndex`, never by the wording of a message."""
    from qa.errors import NoIndex

    store = new_backend().store()
    try:
        assert not store.exists() and store.current_version() is None
        with pytest.raises(NoIndex, match="no index in .*: build one with `qa index PATH`"):
            store.open(encoder.model_name, encoder.backend)
        with store.lock(), pytest.raises(NoIndex, match="no index in"):
            store.remove(["town-0001"], encoder.model_name, encoder.backend)
    finally:
        store.close()


def test_a_second_writer_is_turned_away(new_backend, tmp_path):
    backend: Backend = new_backend()
    corpus = town_folder(tmp_path, 2)
    store = backend.store()
    with store.lock():
        second = run_qa("index", str(corpus), env=backend.env)
    store.close()
    assert second.returncode == 1 and "another `qa index` is writing" in second.stderr
    assert run_qa("index", str(corpus), env=backend.env).returncode == 0  # the lock went with its holder


@pytest.mark.slow
def test_answering_while_indexing(new_backend, encoder, tmp_path):
    """A reader keeps answering, from the old version or the new one, never an error, while a
    `qa index` process writes; it switches to the new version once it is published."""
    backend: Backend = new_backend()
    corpus = town_folder(tmp_path, 60)
    backend.index([corpus], encoder)
    pipeline = backend.pipeline(encoder)
    question = "When will the river bridge of Town5 reopen?"
    assert "March" in str(pipeline.ask(question).answer)
    for i in range(60, 120):
        write_town(corpus, i)
    write_town(corpus, 5, month="October")
    seen: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def ask_loop() -> None:
        for _ in range(100_000):  # bounded
            if stop.is_set():
                return
            try:
                answer = pipeline.ask(question).answer or ""
                seen.append("October" if "October" in answer else "March" if "March" in answer else answer)
                pipeline.search("repairs cost Town77", 3)
            except Exception as exc:  # any failure is what this test is about
                errors.append(repr(exc))
            stop.wait(0.02)  # dozens of questions a second, leaving the writer a core

    reader = threading.Thread(target=ask_loop)
    reader.start()
    try:
        writer = qa_index(corpus, env=backend.env)
        assert writer.wait(timeout=300) == 0, writer.stderr.read().decode()  # type: ignore[union-attr]
        for _ in range(100):  # bounded wait for the reader to switch
            if seen and seen[-1] == "October":
                break
            time.sleep(0.1)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert errors == []
    assert set(seen) <= {"March", "October"} and seen[0] == "March" and seen[-1] == "October"
    assert "October" not in seen[: seen.index("October")] and "March" not in seen[seen.index("October") :]
    assert "Town77" in pipeline.search("repairs cost Town77", 3).results[0].passage


# ---- date filters --------------------------------------------------------------------------------

IN_2024 = {doc_id for doc_id, published in DATED.items() if published and published.startswith("2024")}  # nine
HARBOUR = "record harbour cargo tonnes"


def found_ids(pipeline, query: str, k: int, since: str | None = None, until: str | None = None) -> list[str]:
    return [r.doc_id for r in pipeline.search(query, k, dates=DateRange.parse(since, until)).results]


def test_date_filters_are_applied_inside_retrieval(new_backend, encoder, tmp_path):
    """A filtered search returns the k best passages in range (k whenever the range holds k),
    never one out of range or undated; since-only, until-only and empty ranges work."""
    backend: Backend = new_backend()
    corpus = write_dated_corpus(tmp_path / "dated")
    backend.index([corpus], encoder)
    pipeline = backend.pipeline(encoder)
    assert {"port-20", "port-21"} <= set(found_ids(pipeline, HARBOUR, 24))  # unfiltered, the undated are there

    five = found_ids(pipeline, HARBOUR, 5, "2024", "2024")
    assert len(five) == 5 and set(five) <= IN_2024
    assert set(found_ids(pipeline, HARBOUR, 20, "2024", "2024")) == IN_2024  # all nine, nothing else
    named = found_ids(pipeline, "How much cargo did the harbour of Port3 handle?", 5, "2024", "2024")
    assert len(named) == 5 and set(named) <= IN_2024  # Port3's report (2023) is the best match, and out of range
    assert found_ids(pipeline, "How much cargo did the harbour of Port14 handle?", 1, "2024", "2024") == ["port-14"]

    assert set(found_ids(pipeline, HARBOUR, 20, since="2024-07")) == {"port-18", "port-19", "port-23"}
    assert set(found_ids(pipeline, HARBOUR, 20, until="2023-03")) == {"port-00", "port-01", "port-02"}
    assert found_ids(pipeline, HARBOUR, 20, "2025-02-03", "2025-02-03") == ["port-23"]  # a timestamp's day
    assert set(found_ids(pipeline, HARBOUR, 20, "2024-06", "2024-06")) == {"port-17", "port-22"}  # month only: its 1st
    assert found_ids(pipeline, HARBOUR, 10, since="2030") == []  # nothing in range: nothing, no error

    # The backend's candidates: with a pool of 3, the 3 best in range by cosine, and BM25's 3 best in range.
    query_terms, vector = terms(HARBOUR), encoder.encode([HARBOUR])[0]
    year = DateRange.parse("2024", "2024")
    small = pipeline.index.candidates(query_terms, vector, 3, year)
    every = pipeline.index.candidates(query_terms, vector, 50, year)
    assert {p.doc_id for p in every.passages} == IN_2024 and {p.doc_id for p in small.passages} <= IN_2024
    best_dense = {every.passages[i].id for i in sorted(range(len(every.passages)), key=lambda i: -every.dense[i])[:3]}
    assert best_dense <= {p.id for p in small.passages} and len(small.passages) >= 3
    assert len(pipeline.index.candidates(query_terms, vector, 3, DateRange.parse("2030", None)).passages) == 0

    answer = pipeline.ask("How much cargo did the harbour of Port14 handle?", dates=year)
    assert answer.answered and {s.doc_id for c in answer.citations for s in c.sources} <= IN_2024
    elsewhere = pipeline.ask("How much cargo did the harbour of Port14 handle?", dates=DateRange.parse("2030", None))
    assert not elsewhere.answered and "Only articles published from 2030-01-01 on were searched." in str(elsewhere.message)

    # A report added later (an incremental run) is filtered by its date too.
    (corpus / "late.jsonl").write_text(
        json.dumps(
            {
                "id": "port-30",
                "title": "Record cargo at the Port30 harbour",
                "published": "2026-01-05",
                "text": "The harbour of Port30 handled a record 40 million tonnes of cargo, its harbour authority said.",
            }
        )
        + "\n"
    )
    backend.index([corpus], encoder)
    later = backend.pipeline(encoder)
    assert found_ids(later, HARBOUR, 10, since="2026") == ["port-30"]
    assert "port-30" not in found_ids(later, HARBOUR, 30, until="2025-12-31")


# ---- PostgreSQL only ----------------------------------------------------------------------------


@pytest.fixture
def pg_backend(pg_cluster) -> Backend:
    return Backend("postgres", pg_cluster.create_database(f"t_{next(DATABASES)}"), pg_cluster)


def test_schema_is_versioned_and_a_newer_one_is_refused(pg_backend, tmp_path):
    assert run_qa("migrate", env=pg_backend.env).returncode == 0
    assert run_qa("migrate", env=pg_backend.env).returncode == 0  # idempotent
    with psycopg.connect(pg_backend.url, autocommit=True) as conn:
        assert scalar(conn, "SELECT max(version) FROM qa_schema_migrations") == LATEST
        conn.execute("INSERT INTO qa_schema_migrations (version, name) VALUES (%s, 'from the future')", (LATEST + 1,))
    result = run_qa("index", str(town_folder(tmp_path, 1)), env=pg_backend.env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"version {LATEST + 1}, newer than this qa understands ({LATEST}): upgrade qa" in result.stderr


def test_unreachable_database_is_one_line_exit_1_and_http_503(encoder):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from qa.config import get_settings
    from qa.pipeline import QAPipeline

    url = f"postgresql://qa:secret@127.0.0.1:{free_port()}/nothing"
    result = run_qa("ask", "When did Iran host Shoigu?", env={"QA_STORE_URL": url})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot use PostgreSQL at postgresql://qa:***@127.0.0.1" in result.stderr and "QA_STORE_URL" in result.stderr
    assert "secret" not in result.stderr
    pipeline = QAPipeline(get_settings(store_url=url, cache_dir=CACHE_DIR), encoder=encoder)
    with TestClient(create_app(pipeline)) as client:
        response = client.post("/ask", json={"question": "When did Iran host Shoigu?"})
        assert response.status_code == 503 and "cannot use PostgreSQL" in response.text
        assert client.get("/healthz").status_code == 503


@pytest.mark.parametrize(
    "env,named",
    [
        ({"QA_STORE_URL": "mysql://x/y"}, "QA_STORE_URL"),
        ({"QA_STORE_READ_URL": "postgresql://127.0.0.1/x"}, "QA_STORE_READ_URL"),  # no primary named
        ({"QA_STORE_URL": "postgresql://127.0.0.1/x", "QA_STORE_READ_URL": "http://x"}, "QA_STORE_READ_URL"),
    ],
)
def test_store_settings_are_validated(env, named):
    result = run_qa("docs", env=env)
    assert result.returncode == 2 and named in result.stderr and "Traceback" not in result.stderr


def test_standby_answers_once_the_write_has_replayed(pg_cluster, encoder, tmp_path):
    """A primary and a streaming standby (pg_basebackup -R): reads from QA_STORE_READ_URL see a
    document once the primary's write has been replayed there."""
    primary_url = pg_cluster.create_database(f"t_{next(DATABASES)}")
    standby = pg_cluster.standby()
    try:
        primary = Backend("postgres", primary_url, pg_cluster)
        corpus = town_folder(tmp_path, 3)
        primary.index([corpus], encoder)
        read_url = primary_url.replace(f":{pg_cluster.port}/", f":{standby.port}/")
        standby.wait_replayed(pg_cluster.write_lsn())
        reader = primary.pipeline(encoder, store_read_url=read_url)
        assert "March" in str(reader.ask("When will the river bridge of Town2 reopen?").answer)
        assert not reader.ask("When will the river bridge of Town42 reopen?").answered

        write_town(corpus, 42, month="November")
        report = primary.index([corpus], encoder)
        assert report.added == ["town-0042"]
        standby.wait_replayed(pg_cluster.write_lsn())
        reader.reload_if_changed()
        assert reader.index.version == report.version
        assert "November" in str(reader.ask("When will the river bridge of Town42 reopen?").answer)
        with psycopg.connect(read_url, autocommit=True) as conn:  # it really read from the standby
            assert scalar(conn, "SELECT pg_is_in_recovery()") is True
        write_town(corpus, 43)
        refused = run_qa("index", str(corpus), env={"QA_STORE_URL": read_url})
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "is read-only (a standby?): point QA_STORE_URL at the primary" in refused.stderr
    finally:
        standby.stop()


def test_apostrophes_and_repeated_query_terms_score_alike(pg_backend, encoder, tmp_path):
    """Lexemes with apostrophes ("o'neill", "rock'n'roll") survive the tsvector round trip, and a
    query that repeats a term is scored as bm25s scores it (each repeat counted): both rank alike."""
    corpus = tmp_path / "quotes"
    corpus.mkdir()
    (corpus / "oneill.txt").write_text(
        "O'Neill's harbour plan\nO'Neill said the harbour plan costs $3 million; the harbour board\\council agreed.\n"
        "Critics of O'Neill called the harbour plan rock'n'roll politics, the board\\council said.\n"
    )
    (corpus / "other.txt").write_text("Harbour fees rise\nThe harbour board raised fees for the harbour again on Monday.\n")
    local = Backend("local", str(tmp_path / "local-index"))
    for backend in (local, pg_backend):
        backend.index([corpus], encoder)
    a, b = local.pipeline(encoder), pg_backend.pipeline(encoder)
    for query in ["O'Neill harbour harbour plan", "rock'n'roll board\\council", "harbour harbour harbour fees"]:
        assert hits(a, query) == hits(b, query), query
        assert any(h[4] > 0 for h in hits(b, query))
    assert dict(b.index.passage_freq) == dict(a.index.passage_freq)


def test_a_request_that_meets_a_newer_version_is_answered_from_it(pg_backend, encoder, tmp_path):
    """A reader's cached documents and term counts belong to one version: a query that finds a
    newer one raises IndexChanged, and the pipeline answers from the new version instead of mixing."""
    from qa.stores.base import IndexChanged

    corpus = town_folder(tmp_path, 3)
    pg_backend.index([corpus], encoder)
    pipeline = pg_backend.pipeline(encoder)
    question = "When will the river bridge of Town1 reopen?"
    assert "March" in str(pipeline.ask(question).answer)
    old = pipeline.index
    write_town(corpus, 1, month="October")
    write_town(corpus, 7)
    report = pg_backend.index([corpus], encoder)
    with pytest.raises(IndexChanged):
        old.documents["town-0007"]
    assert "October" in pipeline.ask(question).answer  # at once, not after the next version poll
    assert pipeline.index.version == report.version and pipeline.index is not old


def test_an_index_written_under_schema_1_gets_its_postings_on_upgrade(pg_backend, encoder, pipeline, shared_questions):
    """Migration 2 fills `qa_postings` from the stored tsvectors: an index from before it answers as the local one."""
    pg_backend.index([BUNDLED_CORPUS], encoder)
    with psycopg.connect(pg_backend.url, autocommit=True) as conn:  # back to schema 1 as it was: tsvectors and GIN only
        conn.execute("DROP TABLE qa_postings")
        conn.execute("CREATE INDEX qa_passages_tsv ON qa_passages USING gin (tsv)")
        conn.execute("ALTER TABLE qa_passages DROP COLUMN published_day")  # migration 3's
        conn.execute("DROP FUNCTION qa_published_day(text)")
        conn.execute("DELETE FROM qa_schema_migrations WHERE version >= 2")
    assert run_qa("migrate", env=pg_backend.env).returncode == 0
    with psycopg.connect(pg_backend.url, autocommit=True) as conn:
        postings = scalar(conn, "SELECT count(*) FROM qa_postings")
        assert postings == scalar(conn, "SELECT sum(length(tsv)) FROM qa_passages") > 0
        assert scalar(conn, "SELECT to_regclass('qa_passages_tsv')") is None
    mine = pg_backend.pipeline(encoder)
    for question in shared_questions[:10]:
        assert hits(mine, question) == hits(pipeline, question), question


def test_bm25_reads_a_bounded_number_of_postings_per_term_and_scores_stay_exact(pg_backend, encoder, pipeline):
    """With each term's postings cut to its best one, every passage returned still carries the
    BM25 score bm25s gives it (the cut changes which passages are proposed, never a score)."""
    pg_backend.index([BUNDLED_CORPUS], encoder)
    mine = pg_backend.pipeline(encoder)
    question = "When did Iran host Shoigu?"
    query_terms = terms(question)
    vector = encoder.encode([question])[0]
    full = mine.index.candidates(query_terms, vector, 50)
    mine.index.term_cap = 1
    capped = mine.index.candidates(query_terms, vector, 50)
    exact = dict(zip([p.id for p in full.passages], full.bm25.tolist(), strict=True))
    assert any(s > 0 for s in capped.bm25)
    reference = pipeline.index.candidates(query_terms, vector, 400)  # the local index, every passage with a term
    local = dict(zip([p.id for p in reference.passages], reference.bm25.tolist(), strict=True))
    for p, score in zip(capped.passages, capped.bm25.tolist(), strict=True):
        assert score == local.get(p.id, 0.0) and (p.id not in exact or exact[p.id] == score)


def test_bm25_in_sql_is_the_python_formula(pg_backend):
    """PostgreSQL ranks candidates with the SQL form of BM25 (`bm25.IDF_SQL`, `bm25.TF_SQL`); the
    Python form scores them. Both come from one set of constants and agree to float8 precision."""
    import numpy as np

    from qa.stores.base import bm25_idf
    from qa.stores.postgres import bm25

    idf = bm25.IDF_SQL.format(n="%(n)s::int", df="%(df)s::int")
    tf = bm25.TF_SQL.format(tf="%(tf)s::int", dl="%(dl)s::int", avgdl="%(avgdl)s::float8")
    with psycopg.connect(pg_backend.url) as conn:
        for df, n, count, dl, avgdl in [(1, 10, 1, 12, 9.5), (7, 7, 3, 40, 55.25), (120, 16113, 2, 80, 61.0)]:
            row = conn.execute(f"SELECT {idf}, {tf}", {"n": n, "df": df, "tf": count, "dl": dl, "avgdl": avgdl}).fetchone()
            python_tf = bm25.tf_saturation(np.array([count], np.float32), np.array([dl], np.int64), np.float64(avgdl))[0]
            assert row == (pytest.approx(bm25_idf(df, n), rel=1e-12), pytest.approx(float(python_tf), rel=1e-12))


def test_filtered_candidates_are_the_local_index_s_on_either_dense_path(pg_backend, encoder, tmp_path):
    """Date-filtered hits are the local index's, exact floats, with the exact dense statement and
    with HNSW (whose short answer under a selective filter falls back to exact over the range)."""
    corpus = write_dated_corpus(tmp_path / "dated")
    local = Backend("local", str(tmp_path / "local-index"))
    for backend in (local, pg_backend):
        backend.index([corpus], encoder)
    a, b = local.pipeline(encoder), pg_backend.pipeline(encoder)
    ranges = [("2024", "2024"), ("2024-07", None), (None, "2023-03"), ("2025-02-03", "2025-02-03"), ("2030", None)]
    for query in [HARBOUR, "How much cargo did the harbour of Port3 handle?"]:
        for since, until in ranges:
            dates = DateRange.parse(since, until)
            expected = [(h.passage.id, h.score, h.dense, h.bm25) for h in a.loaded.retriever.run(query, 5, dates=dates)]
            for exact_below in (50_000, 0):  # exact; HNSW
                b.index.exact_below = exact_below  # a PgIndex
                got = [(h.passage.id, h.score, h.dense, h.bm25) for h in b.loaded.retriever.run(query, 5, dates=dates)]
                assert got == expected, (query, since, until, exact_below)


def test_an_index_from_before_date_filters_gets_its_days_on_upgrade(pg_backend, encoder, tmp_path):
    """Migration 3 fills `published_day` from the stored documents' dates, by the same rule as the
    writer's (`qa_published_day` in SQL, `publication_day` in Python): no rebuild needed."""
    pg_backend.index([write_dated_corpus(tmp_path / "dated")], encoder)
    before = found_ids(pg_backend.pipeline(encoder), HARBOUR, 20, "2024", "2024")
    with psycopg.connect(pg_backend.url, autocommit=True) as conn:  # back to schema 2 as it was
        conn.execute("ALTER TABLE qa_passages DROP COLUMN published_day")  # its index goes with it
        conn.execute("ALTER TABLE qa_postings DROP COLUMN published_day")  # and qa_postings_term with this one
        conn.execute("CREATE INDEX qa_postings_term ON qa_postings (term, impact DESC, passage_id) INCLUDE (tf, n_terms)")
        conn.execute("DROP FUNCTION qa_published_day(text)")
        conn.execute("DELETE FROM qa_schema_migrations WHERE version = 3")
    assert run_qa("migrate", env=pg_backend.env).returncode == 0
    with psycopg.connect(pg_backend.url, autocommit=True) as conn:
        assert scalar(conn, "SELECT count(*) FROM qa_passages WHERE published_day IS NOT NULL") == 22
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM qa_postings po JOIN qa_passages p ON p.id = po.passage_id "
                "WHERE po.published_day IS DISTINCT FROM p.published_day",
            )
            == 0
        )
        assert scalar(conn, "SELECT published_day FROM qa_passages WHERE doc_id = 'port-22'") == publication_day("2024-06")
        for text in [
            "2024-03-05",
            " 2024-03-05T10:00:00Z",
            "2024-06",
            "2024-06 (updated)",
            "2024-02-30",
            "2024-13-01",
            "0000-01-01",
            "20240305",
            "2024-03-051",
            "March 5, 2024",
            "",
            "2024",
            "2024-3-5",
            "１２３４-01-01",
        ]:
            assert scalar(conn, "SELECT qa_published_day(%s)", (text,)) == publication_day(text), text
    assert found_ids(pg_backend.pipeline(encoder), HARBOUR, 20, "2024", "2024") == before
    assert set(before) == IN_2024
