"""HTTP front end: the core's answer object over FastAPI, a source viewer and a chat page.

Only protocol translation lives here: requests become `QAPipeline.ask` calls, answers go back as
JSON. Model inference runs in a worker thread so the event loop keeps serving; the pipeline
itself switches to a newer index snapshot between requests.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi_offline import FastAPIOffline
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field, field_validator

from embeddings.store import IndexStoreError
from qa.conversation import ConversationStore
from qa.pipeline import MAX_QUESTION_CHARS, QAPipeline, QuestionError
from qa.schema import Answer

STATIC = Path(__file__).parent / "static"
EXAMPLE_QUESTION = "When did Iran host Shoigu?"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


DOCS_HEADERS = {  # the interactive docs page bootstraps itself with an inline script
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
}


class AskRequest(BaseModel):
    question: str = Field(max_length=MAX_QUESTION_CHARS, examples=[EXAMPLE_QUESTION])
    top_k: int = Field(5, ge=1, le=20, description="Passages to consider (1..20).")
    conversation_id: str | None = Field(
        None, max_length=100, description="Send the id from an earlier answer to ask a follow-up."
    )

    @field_validator("question")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is empty: send a question, e.g. \"When did Iran host Shoigu?\"")
        return value

    model_config = {"json_schema_extra": {"examples": [{"question": EXAMPLE_QUESTION, "top_k": 5}]}}


class AskResponse(Answer):
    conversation_id: str


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram(
            "qa_http_request_seconds", "Request latency", ["endpoint"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.answers = Counter("qa_answers", "Questions answered", registry=self.registry)
        self.abstentions = Counter("qa_abstentions", "Questions declined for lack of support", registry=self.registry)


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(pipeline: QAPipeline, conversations: ConversationStore | None = None) -> FastAPI:
    app = FastAPIOffline(  # FastAPI with the /docs assets served locally: no CDN, works offline
        title="News QA",
        description="Answers questions from indexed news articles, citing the exact passages.",
        version="0.1.0",
    )
    conversations = conversations or ConversationStore()
    metrics = Metrics()
    limiter = CapacityLimiter(4)  # inference threads; more only contend for the two cores
    app.state.pipeline = pipeline
    app.state.conversations = conversations

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = []
        for error in exc.errors():
            if error.get("type") == "json_invalid":
                messages.append('the request body is not valid JSON; send {"question": "..."}')
                continue
            where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
            text = str(error.get("msg", "")).removeprefix("Value error, ")
            messages.append(f"{where}: {text}" if where else text)
        return _problem(422, "; ".join(messages) or "invalid request")

    @app.middleware("http")
    async def observe(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        headers = DOCS_HEADERS if request.url.path in {"/docs", "/redoc"} else SECURITY_HEADERS
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response

    async def answer(question: str, top_k: int, conversation_id: str | None) -> AskResponse:
        key, conversation = conversations.get(conversation_id)
        try:
            result = await to_thread.run_sync(lambda: pipeline.ask(question, conversation=conversation, top_k=top_k), limiter=limiter)
        except QuestionError as exc:
            raise HTTPException(422, str(exc)) from None
        except IndexStoreError as exc:
            raise HTTPException(503, str(exc)) from None
        (metrics.answers if result.answered else metrics.abstentions).inc()
        return AskResponse(**result.model_dump(), conversation_id=key)

    @app.post("/ask", response_model=AskResponse, tags=["answers"], responses={422: {"description": "Unusable question or parameters"}})
    async def ask_post(body: AskRequest) -> AskResponse:
        """Answer a question with numbered citations. Send `conversation_id` back for follow-ups."""
        return await answer(body.question, body.top_k, body.conversation_id)

    @app.get("/ask", response_model=AskResponse, tags=["answers"], responses={422: {"description": "Unusable question or parameters"}})
    async def ask_get(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, examples=[EXAMPLE_QUESTION])],
        top_k: Annotated[int, Query(ge=1, le=20)] = 5,
        conversation_id: Annotated[str | None, Query(max_length=100)] = None,
    ) -> AskResponse:
        """The same as POST /ask, for a browser address bar or curl."""
        return await answer(q, top_k, conversation_id)

    def find_document(doc_id: str, as_json: bool = False):  # type: ignore[no-untyped-def]
        # Documents are looked up by id in the loaded index, never on disk: no path can escape it.
        try:
            documents = pipeline.index.documents
        except IndexStoreError as exc:
            raise HTTPException(503, str(exc)) from None
        if as_json and doc_id not in documents and doc_id.endswith(".json"):
            doc_id = doc_id[: -len(".json")]
        doc = documents.get(doc_id)
        if doc is None:
            raise HTTPException(404, f"no document {doc_id!r} in the index; the ids are listed by `qa docs`")
        return doc

    @app.get("/sources/{doc_id:path}", tags=["sources"], responses={404: {"description": "Unknown document"}})
    async def source(doc_id: str) -> Response:
        """The cleaned article as HTML (`/sources/ID#cSTART-END` highlights a span) or as JSON (`/sources/ID.json`)."""
        if doc_id.endswith(".json"):
            doc = find_document(doc_id, as_json=True)
            if doc.doc_id != doc_id:
                return JSONResponse({k: v for k, v in doc.to_dict().items() if k != "source"})
        return HTMLResponse(render_source_page(find_document(doc_id)))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> JSONResponse:
        """Whether an index is loaded, its size, version and model."""
        try:
            index = pipeline.index
        except IndexStoreError as exc:
            return JSONResponse({"status": "error", "index_loaded": False, "detail": str(exc)}, status_code=503)
        return JSONResponse({
            "status": "ok", "index_loaded": True, "documents": len(index.documents), "passages": len(index.passages),
            "model": index.manifest.get("model"), "backend": index.manifest.get("backend"),
            "index_version": index.version, "index_built_at": index.manifest.get("built_at"),
        })

    @app.get("/metrics", tags=["operations"])
    async def prometheus() -> Response:
        """Prometheus metrics: requests, latency histogram, answers and abstentions."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def chat_page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def render_source_page(doc) -> str:  # type: ignore[no-untyped-def]
    """The article with every piece of corpus text escaped; highlighting is done by source.js."""
    meta = " · ".join(html.escape(x) for x in (doc.publisher, doc.published) if x)
    link = f'<p class="meta"><a href="{html.escape(doc.url, quote=True)}" rel="noopener noreferrer">original article</a></p>' if doc.url else ""
    payload = json.dumps({"doc_id": doc.doc_id, "text": doc.text}).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(doc.title)}</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="source"><main>
<p><a href="/">← ask a question</a></p>
<h1>{html.escape(doc.title)}</h1>
<p class="meta">{meta}</p>{link}
<article id="text">{html.escape(doc.text)}</article>
</main>
<script type="application/json" id="doc-data">{payload}</script>
<script src="/static/source.js"></script>
</body></html>"""
