"""The `qa` command line, end to end in subprocesses."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_EVAL, run_qa

SHOIGU = "When did Iran host Shoigu?"


def ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_ask_json_prints_exactly_the_answer_object(index_dir):
    result = ok(run_qa("ask", "--json", SHOIGU, "--index-dir", str(index_dir)))
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["answered"] and "September" in data["answer"]
    assert set(data) == {"question", "answer", "answered", "message", "citations", "took_ms"}


def test_ask_readable_output_has_numbered_sources(index_dir):
    result = ok(run_qa("ask", SHOIGU, "--index-dir", str(index_dir)))
    assert "September" in result.stdout and "[1]" in result.stdout
    assert "/sources/000_41c7a4f655479979#c" in result.stdout


def test_ask_stdin_batch_keeps_order(index_dir):
    questions = [SHOIGU, "Who won the 2022 FIFA World Cup?", "Which country has Russia turned to for artillery?"]
    result = ok(run_qa("ask", "--json", "-", "--index-dir", str(index_dir), input="\n".join(questions) + "\n"))
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["question"] for r in rows] == questions
    assert [r["answered"] for r in rows] == [True, False, True]


def test_search_json(index_dir):
    result = ok(run_qa("search", "Shahed drones", "-k", "3", "--json", "--index-dir", str(index_dir)))
    data = json.loads(result.stdout)
    assert data["query"] == "Shahed drones" and len(data["results"]) == 3
    assert set(data["results"][0]) == {"doc_id", "title", "url", "passage", "start", "end", "score"}
    batch = ok(run_qa("search", "--json", "-", "--index-dir", str(index_dir), input="Kirby\nWagner\n"))
    assert [json.loads(line)["query"] for line in batch.stdout.splitlines()] == ["Kirby", "Wagner"]


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2(index_dir, question):
    result = run_qa("ask", question, "--index-dir", str(index_dir))
    assert result.returncode == 2
    assert "empty" in result.stderr and "Traceback" not in result.stderr


def test_first_ask_builds_the_bundled_index(tmp_path):
    result = ok(run_qa("ask", "--json", SHOIGU, "--index-dir", str(tmp_path / "fresh")))
    assert json.loads(result.stdout)["answered"]
    assert "bundled demo corpus" in result.stderr
    assert (tmp_path / "fresh" / "CURRENT").is_file()


def test_index_command_reports_and_skips_bad_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(
        "Bridge to reopen\nCity officials said on Tuesday that the Elm Street bridge will reopen in March after repairs.\n"
    )
    (corpus / "empty.txt").write_text("")
    result = ok(run_qa("index", str(corpus), "--index-dir", str(tmp_path / "idx")))
    assert "empty.txt" in result.stderr and "added 1, updated 0, removed 0" in result.stderr and "1 files skipped" in result.stderr
    answer = ok(run_qa("ask", "--json", "When will the Elm Street bridge reopen?", "--index-dir", str(tmp_path / "idx")))
    data = json.loads(answer.stdout)
    assert "March" in data["answer"] and data["citations"][0]["doc_id"] == "good"


def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_qa("index", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 1
    assert "no documents" in result.stderr and "Traceback" not in result.stderr


def test_index_built_with_another_model_is_refused(index_dir, tmp_path):
    result = run_qa("ask", SHOIGU, "--index-dir", str(index_dir), env={"QA_BACKEND": "torch"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "built with model" in result.stderr and "--rebuild" in result.stderr
    fake_model = tmp_path / "other-model"
    fake_model.mkdir()
    (fake_model / "config.json").write_text("{}")
    result = run_qa("ask", SHOIGU, "--index-dir", str(index_dir), "--model", str(fake_model))
    assert result.returncode == 1 and "built with model" in result.stderr


def test_unknown_model_is_a_clear_error(tmp_path):
    result = run_qa("index", "qa/data/corpus", "--index-dir", str(tmp_path / "idx"), env={"QA_MODEL": "no-such/model"})
    assert result.returncode == 1 and "not available offline" in result.stderr and "Traceback" not in result.stderr


def test_chat_follow_up(index_dir):
    script = "Which fighter jets did Iran finalize a deal to buy from Russia?\nWhen was that?\n"
    result = ok(run_qa("chat", "--index-dir", str(index_dir), input=script))
    assert "Su-35" in result.stdout
    assert "last month" in result.stdout or "earlier this year" in result.stdout


def test_eval_command(index_dir):
    if not SHARED_EVAL.exists():
        pytest.skip("shared evaluation questions not present")
    result = ok(run_qa("eval", str(SHARED_EVAL), "--index-dir", str(index_dir)))
    for metric in ("answer accuracy", "abstention accuracy", "recall@5", "MRR", "latency"):
        assert metric in result.stdout
    assert "misses               none" in result.stdout
    bad = run_qa("eval", "/nonexistent.jsonl", "--index-dir", str(index_dir))
    assert bad.returncode == 2 and "cannot read" in bad.stderr
