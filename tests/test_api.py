"""The HTTP API in process (httpx driving the ASGI app); one real `qa serve` process as a smoke test."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import ANSWER_FIELDS, CACHE_DIR, DATED, ROOT, SHOIGU, XSS_PAYLOAD, Server
from starlette.middleware.base import BaseHTTPMiddleware

from api.app import DOCS_HEADERS, SECURITY_HEADERS, create_app
from embeddings.encoder import EncoderError
from qa.config import get_settings
from qa.pipeline import QAPipeline

FOLLOW_UP = ("Which fighter jets did Iran finalize a deal to buy from Russia?", "When was that?")


def post(client, body):
    return client.post("/ask", json=body)


def test_post_and_get_ask_return_the_answer_object(client):
    posted = post(client, {"question": SHOIGU})
    assert posted.status_code == 200
    data = posted.json()
    assert data["answered"] and "September" in data["answer"]
    assert set(data) == ANSWER_FIELDS | {"conversation_id"}
    assert data["conversation_id"] is None  # a one-shot question starts nothing
    got = client.get("/ask", params={"q": SHOIGU}).json()
    assert got["answer"] == data["answer"] and got["citations"][0]["url"] == data["citations"][0]["url"]


def test_viewer_links_point_at_the_server_that_answered(client, pipeline):
    citation = post(client, {"question": SHOIGU}).json()["citations"][0]
    assert citation["url"] == f"http://testserver/sources/{citation['doc_id']}#c{citation['start']}-{citation['end']}"
    public = pipeline.settings.model_copy(update={"public_url": "https://qa.example.com"})
    with TestClient(create_app(QAPipeline(public, encoder=pipeline.encoder))) as other:
        assert post(other, {"question": SHOIGU}).json()["citations"][0]["url"].startswith("https://qa.example.com/sources/")


def test_top_k_is_the_number_of_passages_read(client, pipeline):
    first = pipeline.search(SHOIGU, 1).results[0].doc_id
    one = post(client, {"question": SHOIGU, "top_k": 1}).json()
    assert [s["doc_id"] for s in one["citations"][0]["sources"]] == [first]  # one passage: one source, the first hit
    ten = post(client, {"question": SHOIGU, "top_k": 10}).json()
    assert len(ten["citations"][0]["sources"]) == 2  # the reposted copy is among ten passages
    assert post(client, {"question": SHOIGU, "top_k": 50}).status_code == 200


def test_conversation_is_started_on_request_and_continued(client):
    first = post(client, {"question": FOLLOW_UP[0], "start_conversation": True}).json()
    cid = first["conversation_id"]
    assert cid and "Su-35" in first["answer"]
    follow = post(client, {"question": FOLLOW_UP[1], "conversation_id": cid}).json()
    assert follow["conversation_id"] == cid
    assert follow["answered"] and ("last month" in follow["answer"] or "earlier this year" in follow["answer"])
    fresh = post(client, {"question": FOLLOW_UP[1]}).json()
    assert not fresh["answered"] and fresh["conversation_id"] is None
    unknown = post(client, {"question": FOLLOW_UP[1], "conversation_id": "never-started"})
    assert unknown.status_code == 404 and "start a new one" in unknown.json()["detail"]
    both = post(client, {"question": SHOIGU, "conversation_id": cid, "start_conversation": True})
    assert both.status_code == 422


def test_one_shot_traffic_creates_no_conversation_and_evicts_nobody(pipeline, encoder):
    settings = pipeline.settings.model_copy(update={"max_conversations": 3})
    small = QAPipeline(settings, encoder=encoder)
    with TestClient(create_app(small)) as client:
        cid = post(client, {"question": FOLLOW_UP[0], "start_conversation": True}).json()["conversation_id"]
        for _ in range(3 * settings.max_conversations):  # three times what the store holds
            assert client.get("/ask", params={"q": SHOIGU}).status_code == 200
        assert len(small.conversations) == 1
        follow = post(client, {"question": FOLLOW_UP[1], "conversation_id": cid}).json()
        assert follow["answered"], "the real user's conversation was evicted"


def test_declined_answer(client):
    data = post(client, {"question": "Who won the 2022 FIFA World Cup?"}).json()
    assert (data["answered"], data["answer"], data["citations"]) == (False, None, [])


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"question": ""}, "empty"),
        ({"question": "   \t "}, "empty"),
        ({"question": "x" * 2001}, "2000"),
        ({"question": SHOIGU, "top_k": 0}, "top_k"),
        ({"question": SHOIGU, "top_k": 51}, "top_k"),
        ({"question": SHOIGU, "top_k": "many"}, "top_k"),
        ({"question": 42}, "question"),
        ({}, "question"),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_to_fix(client, body, fragment):
    response = post(client, body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_malformed_json_and_bad_query(client):
    response = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]
    assert client.get("/ask").status_code == 422
    assert client.get("/ask", params={"q": "   "}).status_code == 422


class BrokenEncoder:
    """An encoder whose model cannot run (a damaged export, say)."""

    model_name, backend, dim = "sentence-transformers/all-MiniLM-L6-v2", "onnx-int8", 384

    def encode(self, texts, batch_size=32, progress=None):
        raise EncoderError("the ONNX model in .qa/cache is damaged: delete it to re-export")


def test_model_and_index_problems_are_503_not_500(pipeline, tmp_path):
    with TestClient(create_app(QAPipeline(pipeline.settings, encoder=BrokenEncoder())), raise_server_exceptions=False) as broken:
        response = post(broken, {"question": "An entirely new question about encoders?"})
        assert response.status_code == 503 and "damaged" in response.json()["detail"]
    missing = QAPipeline(get_settings(index_dir=tmp_path / "none", cache_dir=CACHE_DIR), encoder=pipeline.encoder)
    with TestClient(create_app(missing), raise_server_exceptions=False) as empty:
        assert post(empty, {"question": SHOIGU}).status_code == 503
        assert empty.get("/sources/anything").status_code == 503
        assert empty.get("/healthz").status_code == 503


def test_source_viewer_and_json(client):
    citation = post(client, {"question": SHOIGU}).json()["citations"][0]
    page = client.get(citation["url"].split("#")[0])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in page.headers
    doc = client.get(f"/sources/{citation['doc_id']}.json").json()
    assert doc["text"][citation["start"] : citation["end"]] == citation["passage"]
    assert doc["publisher"] and doc["title"] and "source" not in doc
    assert doc["title"].replace("'", "&#39;") in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/sources/nope",
        "/sources/nope.json",
        "/sources/..%2F..%2Fetc%2Fpasswd",
        "/sources/%2Fetc%2Fpasswd",
        "/sources/../../etc/passwd",
        "/sources/..%252F..%252Fetc%252Fpasswd",
        "/sources/%2e%2e/%2e%2e/pyproject.toml",
    ],
)
def test_unknown_or_escaping_doc_ids_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404, path
    assert "root:" not in response.text and "[project]" not in response.text


def test_health_and_metrics(client):
    health = client.get("/healthz").json()
    assert health["index_loaded"] and health["documents"] == 5 and health["passages"] > 0
    assert health["model"] == "sentence-transformers/all-MiniLM-L6-v2" and health["index_version"].startswith("v-")
    post(client, {"question": "What is the capital of Australia?"})
    metrics = client.get("/metrics").text
    assert 'qa_http_requests_total{endpoint="/ask",status="200"}' in metrics
    assert "qa_http_request_seconds_bucket" in metrics and "qa_abstentions_total" in metrics


def requests_counted(client) -> dict[tuple[str, str], float]:
    """qa_http_requests_total by (endpoint, status), scraped from /metrics (the scrape itself counts after it)."""
    found = re.findall(r'^qa_http_requests_total\{endpoint="([^"]*)",status="(\d+)"\} (\S+)$', client.get("/metrics").text, re.M)
    return {(endpoint, status): float(value) for endpoint, status, value in found}


def test_every_response_carries_the_security_headers_and_is_counted(client):
    """404s, static files (streamed from disk), pages, JSON and the docs: the middleware sees them all."""
    before = requests_counted(client)
    for path in ["/no/such/page", "/static/app.js", "/static/style.css", "/sources/000_41c7a4f655479979", "/", "/healthz"]:
        response = client.get(path)
        assert response.status_code == (404 if path.startswith("/no/") else 200)
        assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS, path
    docs = client.get("/docs")
    assert {name: docs.headers.get(name) for name in DOCS_HEADERS} == DOCS_HEADERS  # its inline bootstrap script runs
    after = requests_counted(client)

    def added(endpoint: str | None, status: str) -> float:
        return sum(n - before.get(key, 0) for key, n in after.items() if key[1] == status and endpoint in (None, key[0]))

    assert added("unmatched", "404") == 1 and added("/sources/{doc_id:path}", "200") == 1 and added("/healthz", "200") == 1
    assert added(None, "200") == 7  # five pages and files, the docs, and the first scrape
    # plain ASGI middleware, not Starlette's BaseHTTPMiddleware (`@app.middleware("http")`), which costs every request
    assert not any(m.cls is BaseHTTPMiddleware for m in client.app.user_middleware)


def test_openapi_docs_work_offline(client):
    spec = client.get("/openapi.json").json()
    assert "When did Iran host Shoigu?" in json.dumps(spec) and "start_conversation" in json.dumps(spec)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    chat = client.get("/")
    assert chat.status_code == 200 and "/static/app.js" in chat.text and "http" not in chat.text.split("<body>")[1]
    assert "start_conversation" in client.get("/static/app.js").text


def test_concurrent_requests_match_sequential(server):
    questions = [
        SHOIGU,
        "Who is the spokesman for Iran's foreign ministry?",
        "Who won the 2022 FIFA World Cup?",
        "How many Shahed drones had Iran provided to Russia since August?",
    ] * 6
    with httpx.Client(base_url=server.url, timeout=30) as http:
        sequential = [post(http, {"question": q}).json()["answer"] for q in questions]
        with ThreadPoolExecutor(max_workers=12) as pool:
            concurrent = list(pool.map(lambda q: post(http, {"question": q}).json()["answer"], questions))
    assert concurrent == sequential
    assert len(set(sequential)) == 4  # four different questions, four different outcomes


def test_markup_in_corpus_text_is_served_inert(xss_pipeline):
    with TestClient(create_app(xss_pipeline)) as client:
        page = client.get("/sources/evil")
        assert page.status_code == 200
        assert XSS_PAYLOAD not in page.text and "<script>window.__pwned" not in page.text
        assert "&lt;script&gt;" in page.text
        data_script = page.text.split('id="doc-data">')[1].split("</script>")[0]
        assert "<" not in data_script and json.loads(data_script)["doc_id"] == "evil"
        answer = post(client, {"question": "When will the harbour bridge close?"}).json()
        assert answer["answered"] and "<script>" in answer["answer"]  # JSON carries the text; the page renders it as text


def test_qa_serve_process_smoke(index_dir):
    """The one test of the real `qa serve` process: it starts, answers and links to itself."""
    with Server(["serve", "--index-dir", str(index_dir)], env={"QA_PUBLIC_URL": ""}) as srv:
        data = httpx.post(srv.url + "/ask", json={"question": SHOIGU}, timeout=30).json()
        assert data["answered"] and data["citations"][0]["url"].startswith(srv.url + "/sources/")


@pytest.mark.skipif(
    shutil.which("schemathesis") is None and not (ROOT / ".venv" / "bin" / "schemathesis").exists(),
    reason="schemathesis not installed",
)
@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(server):
    binary = shutil.which("schemathesis") or str(ROOT / ".venv" / "bin" / "schemathesis")
    result = subprocess.run(
        [
            binary,
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--request-timeout",
            "10",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# ---- date filters: since / until ----------------------------------------------------------------------

IN_2024 = {doc_id for doc_id, published in DATED.items() if published and published.startswith("2024")}


def test_search_and_ask_take_since_and_until(dated_client):
    query = {"q": "record harbour cargo", "k": 30}
    got = dated_client.get("/search", params={**query, "since": "2024", "until": "2024"})
    assert got.status_code == 200 and {r["doc_id"] for r in got.json()["results"]} == IN_2024
    assert all(r["url"].startswith("http://testserver/sources/") for r in got.json()["results"])
    posted = dated_client.post("/search", json={"query": "record harbour cargo", "k": 5, "since": "2024-07"}).json()
    assert {r["doc_id"] for r in posted["results"]} == {"port-18", "port-19", "port-23"}
    assert len(dated_client.get("/search", params=query).json()["results"]) == 24  # no bounds: undated included
    blank = dated_client.get("/search", params={**query, "since": "", "until": " "})  # empty form fields: no bound
    assert blank.status_code == 200 and len(blank.json()["results"]) == 24

    question = "How much cargo did the harbour of Port14 handle?"
    answer = dated_client.post("/ask", json={"question": question, "since": "2024-01-01", "until": "2024-12-31"}).json()
    assert answer["answered"] and {s["doc_id"] for c in answer["citations"] for s in c["sources"]} <= IN_2024
    none = dated_client.get("/ask", params={"q": question, "until": "2022"}).json()
    assert not none["answered"] and "Only articles published up to 2022-12-31 were searched." in none["message"]


@pytest.mark.parametrize(
    "dates,fragment",
    [
        ({"since": "2024-13"}, "since=2024-13 is not a date: use YYYY-MM-DD, YYYY-MM or YYYY"),
        ({"until": "31/12/2024"}, "until=31/12/2024 is not a date"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "since=2024-05-02 is after until=2024-05-01"),
        ({"since": "2" * 21}, "since"),
    ],
    ids=["month-13", "not-iso", "since-after-until", "too-long"],
)
def test_bad_dates_are_a_422_that_says_what_to_fix(dated_client, dates, fragment):
    for response in (
        dated_client.post("/ask", json={"question": SHOIGU, **dates}),
        dated_client.get("/ask", params={"q": SHOIGU, **dates}),
        dated_client.post("/search", json={"query": SHOIGU, **dates}),
        dated_client.get("/search", params={"q": SHOIGU, **dates}),
    ):
        assert response.status_code == 422 and fragment in response.json()["detail"], response.text


def test_a_bad_date_starts_no_conversation(dated_client):
    pipeline = dated_client.app.state.pipeline
    before = len(pipeline.conversations)
    response = dated_client.post("/ask", json={"question": SHOIGU, "start_conversation": True, "since": "2024-00"})
    assert response.status_code == 422 and len(pipeline.conversations) == before
