"""HTTP front end: the core's answer object over FastAPI, a source viewer and a chat page.

Only protocol translation lives here: requests become `QAPipeline.ask` calls, answers go back as
JSON with viewer links built for this server, and every `QAError` maps to one status (422 bad
input, 404 not found, 503 index or model unavailable). Model inference runs in worker threads
so the event loop keeps serving; the pipeline switches to a newer index snapshot between requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, field_validator, model_validator

from api.observe import Metrics, Observe
from qa.config import TOP_K_MAX, TOP_K_MIN
from qa.daterange import BOUND_FORMATS, DateRange
from qa.errors import HTTP_STATUS, NotFound, QAError
from qa.ingest.sources import Document
from qa.links import LinkBuilder
from qa.pipeline import MAX_QUESTION_CHARS, SEARCH_K, QAPipeline
from qa.schema import Answer, SearchResponse

STATIC = Path(__file__).parent / "static"
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
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


SINCE_HELP = (
    f"Only articles published on or after this day ({BOUND_FORMATS}; a month or year from its first day). "
    "Undated articles are left out. Default: no bound."
)
UNTIL_HELP = (
    f"Only articles published on or before this day ({BOUND_FORMATS}; a month or year through its last day). "
    "Undated articles are left out. Default: no bound."
)


class DateFilter(BaseModel):
    """The publication-date bounds a request may carry; checked by the core (`DateRange.parse`)."""

    since: str | None = Field(None, max_length=20, description=SINCE_HELP, examples=["2024-03"])
    until: str | None = Field(None, max_length=20, description=UNTIL_HELP, examples=["2024-12-31"])

    def dates(self) -> DateRange | None:
        return DateRange.parse(self.since, self.until)


class AskRequest(DateFilter):
    question: str = Field(max_length=MAX_QUESTION_CHARS, examples=[EXAMPLE_QUESTION])
    top_k: int | None = Field(
        None,
        ge=TOP_K_MIN,
        le=TOP_K_MAX,
        description=f"Passages the answer is chosen from ({TOP_K_MIN}..{TOP_K_MAX}); default QA_TOP_K.",
    )
    start_conversation: bool = Field(False, description="Start a conversation; the answer carries its `conversation_id`.")
    conversation_id: str | None = Field(
        None, max_length=100, description='Continue a conversation started earlier (follow-ups such as "When was that?").'
    )

    @field_validator("question")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError('question is empty: send a question, e.g. "When did Iran host Shoigu?"')
        return value

    @model_validator(mode="after")
    def one_conversation(self) -> AskRequest:
        if self.start_conversation and self.conversation_id:
            raise ValueError("send either start_conversation or conversation_id, not both")
        return self

    model_config = {"json_schema_extra": {"examples": [{"question": EXAMPLE_QUESTION, "start_conversation": True}]}}


class SearchRequest(DateFilter):
    query: str = Field(max_length=MAX_QUESTION_CHARS, examples=["Shahed drones"])
    k: int = Field(SEARCH_K, ge=TOP_K_MIN, le=TOP_K_MAX, description=f"Passages returned ({TOP_K_MIN}..{TOP_K_MAX}).")


class AskResponse(Answer):
    conversation_id: str | None = Field(None, description="Set when the question was part of a conversation.")


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(pipeline: QAPipeline) -> FastAPI:
    app = FastAPIOffline(  # FastAPI with the /docs assets served locally: no CDN, works offline
        title="News QA",
        description="Answers questions from indexed news articles, citing the exact passages.",
        version="0.1.0",
    )
    metrics = Metrics()
    limiter = CapacityLimiter(pipeline.settings.api_threads)  # inference threads; more only contend for the cores
    app.state.pipeline = pipeline

    @app.exception_handler(QAError)
    async def core_error(request: Request, exc: QAError) -> JSONResponse:
        return _problem(HTTP_STATUS[exc.kind], str(exc))

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

    # Plain ASGI middleware (not `@app.middleware("http")`): metrics and headers on every response.
    app.add_middleware(
        Observe, metrics=metrics, headers=SECURITY_HEADERS, by_path={"/docs": DOCS_HEADERS, "/redoc": DOCS_HEADERS}
    )

    def links(request: Request) -> LinkBuilder:
        """Viewer links on QA_PUBLIC_URL when set, else on the address this request reached."""
        return LinkBuilder(pipeline.settings.public_url or str(request.base_url))

    async def answer(
        request: Request,
        question: str,
        top_k: int | None,
        start: bool,
        conversation_id: str | None,
        dates: DateRange | None = None,
    ) -> AskResponse:
        def run() -> AskResponse:  # all in one worker thread: the shared state may be Redis, over the network
            cid = pipeline.conversations.start() if start else conversation_id
            result = pipeline.ask(question, top_k=top_k, conversation_id=cid, dates=dates)
            (metrics.answers if result.answered else metrics.abstentions).inc()
            return AskResponse(**links(request).answer(result).model_dump(), conversation_id=cid)

        return await to_thread.run_sync(run, limiter=limiter)

    errors: dict[int | str, dict[str, str]] = {
        404: {"description": "Unknown or forgotten conversation_id"},
        422: {"description": "Unusable question or parameters"},
        503: {"description": "No usable index or model"},
    }

    @app.post("/ask", response_model=AskResponse, tags=["answers"], responses=errors)
    async def ask_post(request: Request, body: AskRequest) -> AskResponse:
        """Answer a question with numbered citations. `start_conversation` for follow-ups, then send `conversation_id`."""
        dates = body.dates()  # before a conversation is started: a bad date is a 422 and nothing else
        return await answer(request, body.question, body.top_k, body.start_conversation, body.conversation_id, dates)

    @app.get("/ask", response_model=AskResponse, tags=["answers"], responses=errors)
    async def ask_get(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, examples=[EXAMPLE_QUESTION])],
        top_k: Annotated[int | None, Query(ge=TOP_K_MIN, le=TOP_K_MAX)] = None,
        conversation_id: Annotated[str | None, Query(max_length=100)] = None,
        since: Annotated[str | None, Query(max_length=20, description=SINCE_HELP)] = None,
        until: Annotated[str | None, Query(max_length=20, description=UNTIL_HELP)] = None,
    ) -> AskResponse:
        """The same as POST /ask, for a browser address bar or curl; creates no conversation."""
        return await answer(request, q, top_k, False, conversation_id, DateRange.parse(since, until))

    async def search(request: Request, query: str, k: int, dates: DateRange | None) -> SearchResponse:
        response = await to_thread.run_sync(lambda: pipeline.search(query, k, dates=dates), limiter=limiter)
        return links(request).search(response)

    search_errors: dict[int | str, dict[str, str]] = {k: v for k, v in errors.items() if k != 404}

    @app.post("/search", response_model=SearchResponse, tags=["answers"], responses=search_errors)
    async def search_post(request: Request, body: SearchRequest) -> SearchResponse:
        """The `k` best passages for a query (retrieval only, no answer), optionally within publication dates."""
        return await search(request, body.query, body.k, body.dates())

    @app.get("/search", response_model=SearchResponse, tags=["answers"], responses=search_errors)
    async def search_get(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, examples=["Shahed drones"])],
        k: Annotated[int, Query(ge=TOP_K_MIN, le=TOP_K_MAX)] = SEARCH_K,
        since: Annotated[str | None, Query(max_length=20, description=SINCE_HELP)] = None,
        until: Annotated[str | None, Query(max_length=20, description=UNTIL_HELP)] = None,
    ) -> SearchResponse:
        """The same as POST /search, for a browser address bar or curl."""
        return await search(request, q, k, DateRange.parse(since, until))

    def find_document(doc_id: str, as_json: bool = False) -> Document:
        # Documents are looked up by id in the loaded index, never on disk: no path can escape it.
        documents = pipeline.index.documents
        if as_json and doc_id not in documents and doc_id.endswith(".json"):
            doc_id = doc_id[: -len(".json")]
        doc = documents.get(doc_id)
        if doc is None:
            raise NotFound(f"no document {doc_id!r} in the index; the ids are listed by `qa docs`")
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
        except QAError as exc:
            return JSONResponse({"status": "error", "index_loaded": False, "detail": str(exc)}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "index_loaded": True,
                "documents": len(index.documents),
                "passages": index.passage_count,
                "model": index.manifest.get("model"),
                "backend": index.manifest.get("backend"),
                "index_version": index.version,
                "index_built_at": index.manifest.get("built_at"),
            }
        )

    @app.get("/metrics", tags=["operations"])
    async def prometheus() -> Response:
        """Prometheus metrics: requests, latency histogram, answers and abstentions."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def chat_page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def render_source_page(doc: Document) -> str:
    """The article with every piece of corpus text escaped (Jinja2 autoescape); source.js highlights."""
    return TEMPLATES.get_template("source.html").render(doc=doc)
