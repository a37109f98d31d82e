"""The HTTP API, served by a real uvicorn process on a loopback port."""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import ROOT, XSS_PAYLOAD

SHOIGU = "When did Iran host Shoigu?"


def post(server, body, **kwargs):
    return httpx.post(server.url + "/ask", json=body, timeout=30, **kwargs)


def test_post_and_get_ask_return_the_answer_object(server):
    posted = post(server, {"question": SHOIGU})
    assert posted.status_code == 200
    data = posted.json()
    assert data["answered"] and "September" in data["answer"] and data["conversation_id"]
    assert set(data) == {"question", "answer", "answered", "message", "citations", "took_ms", "conversation_id"}
    got = httpx.get(server.url + "/ask", params={"q": SHOIGU, "top_k": 3}, timeout=30).json()
    assert got["answer"] == data["answer"] and got["citations"][0]["url"] == data["citations"][0]["url"]


def test_follow_up_in_a_conversation(server):
    first = post(server, {"question": "Which fighter jets did Iran finalize a deal to buy from Russia?"}).json()
    follow = post(server, {"question": "When was that?", "conversation_id": first["conversation_id"]}).json()
    assert follow["conversation_id"] == first["conversation_id"]
    assert follow["answered"] and ("last month" in follow["answer"] or "earlier this year" in follow["answer"])
    fresh = post(server, {"question": "When was that?"}).json()
    assert not fresh["answered"]


def test_declined_answer(server):
    data = post(server, {"question": "Who won the 2022 FIFA World Cup?"}).json()
    assert (data["answered"], data["answer"], data["citations"]) == (False, None, [])


@pytest.mark.parametrize("body,fragment", [
    ({"question": ""}, "empty"),
    ({"question": "   \t "}, "empty"),
    ({"question": "x" * 2001}, "2000"),
    ({"question": SHOIGU, "top_k": 0}, "top_k"),
    ({"question": SHOIGU, "top_k": 21}, "top_k"),
    ({"question": SHOIGU, "top_k": "many"}, "top_k"),
    ({"question": 42}, "question"),
    ({}, "question"),
])
def test_bad_input_is_a_4xx_that_says_what_to_fix(server, body, fragment):
    response = post(server, body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_malformed_json_and_bad_query(server):
    response = httpx.post(server.url + "/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]
    assert httpx.get(server.url + "/ask").status_code == 422
    assert httpx.get(server.url + "/ask", params={"q": "   "}).status_code == 422


def test_source_viewer_and_json(server):
    answer = post(server, {"question": SHOIGU}).json()
    citation = answer["citations"][0]
    page_url = citation["url"].replace("http://localhost:8000", server.url).split("#")[0]
    page = httpx.get(page_url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in page.headers
    doc = httpx.get(f"{server.url}/sources/{citation['doc_id']}.json").json()
    assert doc["text"][citation["start"] : citation["end"]] == citation["passage"]
    assert doc["publisher"] and doc["title"] and "source" not in doc


@pytest.mark.parametrize("path", [
    "/sources/nope", "/sources/nope.json", "/sources/..%2F..%2Fetc%2Fpasswd", "/sources/%2Fetc%2Fpasswd",
    "/sources/../../etc/passwd", "/sources/..%252F..%252Fetc%252Fpasswd", "/sources/%2e%2e/%2e%2e/pyproject.toml",
])
def test_unknown_or_escaping_doc_ids_are_404(server, path):
    response = httpx.get(server.url + path)
    assert response.status_code == 404, path
    assert "root:" not in response.text and "[project]" not in response.text


def test_health_and_metrics(server):
    health = httpx.get(server.url + "/healthz").json()
    assert health["index_loaded"] and health["documents"] == 5 and health["passages"] > 0
    assert health["model"] == "sentence-transformers/all-MiniLM-L6-v2" and health["index_version"].startswith("v-")
    post(server, {"question": "What is the capital of Australia?"})
    metrics = httpx.get(server.url + "/metrics").text
    assert 'qa_http_requests_total{endpoint="/ask",status="200"}' in metrics
    assert "qa_http_request_seconds_bucket" in metrics and "qa_abstentions_total" in metrics


def test_openapi_docs_work_offline(server):
    spec = httpx.get(server.url + "/openapi.json").json()
    assert "When did Iran host Shoigu?" in json.dumps(spec)
    docs = httpx.get(server.url + "/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    chat = httpx.get(server.url + "/")
    assert chat.status_code == 200 and "/static/app.js" in chat.text and "http" not in chat.text.split("<body>")[1]


def test_concurrent_requests_match_sequential(server):
    questions = [SHOIGU, "Who is the spokesman for Iran's foreign ministry?", "Who won the 2022 FIFA World Cup?",
                 "How many Shahed drones had Iran provided to Russia since August?"] * 6
    sequential = [post(server, {"question": q}).json()["answer"] for q in questions]
    with ThreadPoolExecutor(max_workers=12) as pool:
        concurrent = list(pool.map(lambda q: post(server, {"question": q}).json()["answer"], questions))
    assert concurrent == sequential


def test_markup_in_corpus_text_is_served_inert(xss_server):
    page = httpx.get(xss_server.url + "/sources/evil")
    assert page.status_code == 200
    assert XSS_PAYLOAD not in page.text and "<script>window.__pwned" not in page.text
    assert "&lt;script&gt;" in page.text
    answer = httpx.post(xss_server.url + "/ask", json={"question": "When will the harbour bridge close?"}).json()
    assert answer["answered"] and "<script>" in answer["answer"]  # JSON carries the text; the page renders it as text


@pytest.mark.skipif(shutil.which("schemathesis") is None and not (ROOT / ".venv" / "bin" / "schemathesis").exists(),
                    reason="schemathesis not installed")
def test_schemathesis_finds_no_server_errors(server):
    binary = shutil.which("schemathesis") or str(ROOT / ".venv" / "bin" / "schemathesis")
    result = subprocess.run(
        [binary, "run", f"{server.url}/openapi.json", "--checks", "not_a_server_error", "--max-examples", "25",
         "--seed", "1", "--request-timeout", "10", "--phases", "examples,coverage,fuzzing"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
