"""The `qa` command line, driven in process; one-line errors and exit codes."""

from __future__ import annotations

import json

import pytest
from helpers import ANSWER_FIELDS, DATED, SHARED_EVAL, qa_process, run_qa

from qa.config import BUNDLED_CORPUS

SHOIGU = "When did Iran host Shoigu?"


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_ask_json_prints_exactly_the_answer_object(index_dir):
    result = ok(run_qa("ask", "--json", SHOIGU, "--index-dir", str(index_dir)))
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["answered"] and "September" in data["answer"]
    assert set(data) == ANSWER_FIELDS


def test_without_a_public_viewer_the_cli_prints_file_and_offsets(index_dir):
    result = ok(run_qa("ask", SHOIGU, "--index-dir", str(index_dir)))
    assert "September" in result.stdout and "[1]" in result.stdout
    assert "localhost" not in result.stdout and "/sources/" not in result.stdout
    data = json.loads(ok(run_qa("ask", "--json", SHOIGU, "--index-dir", str(index_dir))).stdout)
    citation = data["citations"][0]
    assert citation["url"] is None
    where = f"{BUNDLED_CORPUS / citation['doc_id']}.txt, characters {citation['start']}-{citation['end']}"
    assert where in result.stdout


def test_with_a_public_viewer_the_cli_prints_its_links(index_dir):
    env = {"QA_PUBLIC_URL": "https://qa.example.com/"}
    data = json.loads(ok(run_qa("ask", "--json", SHOIGU, "--index-dir", str(index_dir), env=env)).stdout)
    citation = data["citations"][0]
    assert citation["url"] == f"https://qa.example.com/sources/{citation['doc_id']}#c{citation['start']}-{citation['end']}"
    assert all(s["url"].startswith("https://qa.example.com/sources/") for s in citation["sources"])


def test_ask_stdin_batch_keeps_order(index_dir):
    questions = [SHOIGU, "Who won the 2022 FIFA World Cup?", "Which country has Russia turned to for artillery?"]
    result = ok(run_qa("ask", "--json", "-", "--index-dir", str(index_dir), input="\n".join(questions) + "\n"))
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["question"] for r in rows] == questions
    assert [r["answered"] for r in rows] == [True, False, True]


def test_search_returns_k_results(index_dir):
    for k in (1, 3, 7):
        data = json.loads(ok(run_qa("search", "Shahed drones", "-k", str(k), "--json", "--index-dir", str(index_dir))).stdout)
        assert data["query"] == "Shahed drones" and len(data["results"]) == k
    assert set(data["results"][0]) == {"doc_id", "title", "url", "passage", "start", "end", "score"}
    batch = ok(run_qa("search", "--json", "-", "--index-dir", str(index_dir), input="Kirby\nWagner\n"))
    assert [json.loads(line)["query"] for line in batch.stdout.splitlines()] == ["Kirby", "Wagner"]


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2(index_dir, question):
    result = run_qa("ask", question, "--index-dir", str(index_dir))
    assert result.returncode == 2 and "empty" in result.stderr


# ---- configuration: one line naming the variable or flag and what it allows, exit 2 ----------------


@pytest.mark.parametrize(
    "args,env,fragments",
    [
        (["ask", SHOIGU], {"QA_TOP_K": "0"}, ["QA_TOP_K=0", "1 to 50"]),
        (["ask", SHOIGU], {"QA_BACKEND": "bogus"}, ["QA_BACKEND=bogus", "onnx-int8, onnx, torch"]),
        (["ask", SHOIGU], {"QA_LOG_LEVEL": "chatty"}, ["QA_LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR"]),
        (["ask", SHOIGU], {"QA_PUBLIC_URL": "qa.example.com"}, ["QA_PUBLIC_URL", "http://"]),
        (["ask", SHOIGU, "--backend", "bogus"], {}, ["--backend=bogus", "onnx-int8, onnx, torch"]),
        (["ask", SHOIGU, "-k", "51"], {}, ["-k=51", "1 to 50"]),
        (["search", SHOIGU, "-k", "0"], {}, ["-k=0", "1 to 50"]),
        (["index", "qa/data/corpus", "--max-passage-chars", "3"], {}, ["--max-passage-chars=3", "100 to 5000"]),
        (["serve"], {"QA_API_THREADS": "0"}, ["QA_API_THREADS=0", "1 to 64"]),
    ],
    ids=[
        "env-top-k",
        "env-backend",
        "env-log-level",
        "env-public-url",
        "flag-backend",
        "flag-k",
        "search-k",
        "flag-chars",
        "api-threads",
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(tmp_path, args, env, fragments):
    result = run_qa(*args, "--index-dir", str(tmp_path / "idx"), env=env)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert not (tmp_path / "idx").exists()  # nothing was built with the bad value


def test_a_bad_environment_value_has_no_traceback_in_the_real_process(tmp_path):
    result = qa_process("ask", SHOIGU, "--index-dir", str(tmp_path / "idx"), env={"QA_TOP_K": "0"})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: QA_TOP_K=0 is not allowed: use a whole number from 1 to 50"


def test_first_ask_builds_the_bundled_index(tmp_path):
    result = ok(run_qa("ask", "--json", SHOIGU, "--index-dir", str(tmp_path / "fresh")))
    assert json.loads(result.stdout)["answered"]
    assert "bundled demo corpus" in result.stderr
    assert (tmp_path / "fresh" / "CURRENT").is_file()


@pytest.mark.parametrize("command", ["serve", "slack"])
def test_servers_refuse_to_start_without_an_index(tmp_path, command):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": ""}
    result = run_qa(command, "--index-dir", str(tmp_path / "typo"), env=env)
    assert result.returncode == 1
    assert "no index in" in result.stderr and "qa index" in result.stderr
    assert not (tmp_path / "typo" / "CURRENT").exists()


def test_index_command_reports_and_skips_bad_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(
        "Bridge to reopen\nCity officials said on Tuesday that the Elm Street bridge will reopen in March after repairs.\n"
    )
    (corpus / "empty.txt").write_text("")
    result = ok(run_qa("index", str(corpus), "--index-dir", str(tmp_path / "idx")))
    assert (
        "empty.txt" in result.stderr and "added 1, updated 0, removed 0" in result.stderr and "1 files skipped" in result.stderr
    )
    answer = ok(run_qa("ask", "--json", "When will the Elm Street bridge reopen?", "--index-dir", str(tmp_path / "idx")))
    data = json.loads(answer.stdout)
    assert "March" in data["answer"] and data["citations"][0]["doc_id"] == "good"


def test_empty_corpus_and_missing_path_are_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_qa("index", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 2 and "no documents" in result.stderr
    result = run_qa("index", str(tmp_path / "nowhere"), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 2 and "no such file or folder" in result.stderr


def test_index_built_with_another_model_is_refused(index_dir, tmp_path):
    result = run_qa("ask", SHOIGU, "--index-dir", str(index_dir), env={"QA_BACKEND": "torch"})
    assert result.returncode == 1
    assert "built with model" in result.stderr and "--rebuild" in result.stderr
    fake_model = tmp_path / "other-model"
    fake_model.mkdir()
    (fake_model / "config.json").write_text("{}")
    result = run_qa("ask", SHOIGU, "--index-dir", str(index_dir), "--model", str(fake_model))
    assert result.returncode == 1 and "built with model" in result.stderr


def test_unknown_model_is_a_clear_error(tmp_path):
    result = run_qa("index", "qa/data/corpus", "--index-dir", str(tmp_path / "idx"), env={"QA_MODEL": "no-such/model"})
    assert result.returncode == 1 and "not available offline" in result.stderr


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


# ---- help that cannot drift from the settings ------------------------------------------------------


def test_every_option_that_sets_a_setting_shows_its_description_variable_and_default_in_help():
    """The help of `-k`, `--index-dir`, ... is read from `Settings`, so it cannot say "default 10"
    where the setting's default is 5; `search -k`, which has its own default, does not claim QA_TOP_K."""
    import re

    import typer.main

    from qa.cli import app
    from qa.config import Settings, env_name

    def row(help_text: str, flag: str) -> str:
        [line] = [line for line in help_text.splitlines() if re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", line)]
        return line

    covered = set()
    for name, command in typer.main.get_group(app).commands.items():
        help_text = ok(run_qa(name, "--help")).stdout
        for param in command.params:
            if param.name not in Settings.model_fields:
                continue
            field, default = param.name, Settings.model_fields[param.name].default
            line = row(help_text, max(param.opts, key=len))
            assert str(Settings.model_fields[field].description) in line, (name, field)
            assert f"[env: {env_name(field)}]" in line, (name, field)
            if default is None:
                assert "[default:" not in line, (name, field)
            else:
                shown = ("on" if default else "off") if isinstance(default, bool) else str(default)
                assert f"[default: {shown}]" in line, (name, field)
            covered.add(field)
    assert covered == {
        "index_dir",
        "store_url",
        "store_read_url",
        "model",
        "backend",
        "top_k",
        "max_passage_chars",
        "reader",
        "state_url",
        "workers",
    }
    search_k = row(ok(run_qa("search", "--help")).stdout, "--top-k")
    assert "[default: 10]" in search_k and "[env: QA_TOP_K]" not in search_k


# ---- date filters: --since / --until ----------------------------------------------------------------


def test_search_and_ask_keep_to_the_dates_given(dated_index_dir):
    where = ("--index-dir", str(dated_index_dir))
    in_2024 = {d for d, published in DATED.items() if published and published.startswith("2024")}

    def found(*flags: str) -> list[str]:
        data = json.loads(ok(run_qa("search", "--json", "record harbour cargo", "-k", "30", *flags, *where)).stdout)
        return [r["doc_id"] for r in data["results"]]

    assert set(found("--since", "2024", "--until", "2024")) == in_2024  # years: from Jan 1, through Dec 31
    assert set(found("--since", "2024-07")) == {"port-18", "port-19", "port-23"}  # a month: from its first day
    assert set(found("--until", "2023-02-10")) == {"port-00", "port-01"}  # a day, inclusive; undated never
    assert found("--since", "2030-01-01") == []
    assert len(found()) == 24  # no flags: every report, the undated ones too
    answer = json.loads(ok(run_qa("ask", "--json", "How much cargo did Port5 handle?", "--until", "2023-12", *where)).stdout)
    assert answer["answered"] and {s["doc_id"] for c in answer["citations"] for s in c["sources"]} <= {
        f"port-{i:02d}" for i in range(12)
    }
    declined = ok(run_qa("ask", "How much cargo did Port5 handle?", "--since", "2031", *where))
    said = " ".join(declined.stdout.split())  # rich wraps to the terminal's width
    assert "No answer." in said and "Only articles published from 2031-01-01 on were searched." in said


@pytest.mark.parametrize(
    "flags,fragments",
    [
        (["--since", "2024-13"], ["--since=2024-13 is not a date", "YYYY-MM-DD, YYYY-MM or YYYY"]),
        (["--until", "2024-02-30"], ["--until=2024-02-30 is not a date"]),
        (["--since", "yesterday"], ["--since=yesterday is not a date"]),
        (["--until", "24"], ["--until=24 is not a date"]),
        (["--since", "2024-05", "--until", "2024-04"], ["--since=2024-05 is after --until=2024-04"]),
    ],
    ids=["month-13", "feb-30", "word", "short-year", "since-after-until"],
)
@pytest.mark.parametrize("command", ["ask", "search"])
def test_bad_dates_are_one_line_and_exit_2(tmp_path, command, flags, fragments):
    result = run_qa(command, SHOIGU, *flags, "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert not (tmp_path / "idx").exists()  # refused before anything was built


def test_date_flags_are_in_help():
    for command in ("ask", "search"):
        help_text = ok(run_qa(command, "--help")).stdout
        assert "--since" in help_text and "--until" in help_text and "Undated articles are left out." in help_text
