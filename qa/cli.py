"""The `qa` command line: index, ask, search, chat, eval (and the servers).

Each command is a thin shell over `QAPipeline`. Every `QAError` is mapped here, once: one line
naming the fix, exit 2 for unusable input (a bad flag or environment value included), 1 when the
index, model or corpus cannot serve; never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from qa.config import Settings, configure_logging, get_settings
from qa.errors import EXIT_CODES, QAError, QuestionError
from qa.links import LinkBuilder
from qa.pipeline import QAPipeline, check_question
from qa.schema import Answer

app = typer.Typer(
    help="Ask questions of a folder of news articles; answers cite the passages they come from.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # messages stay one line: greppable, copyable

# Options shared by every command that opens the index, declared once; values are validated by Settings.
IndexDir = Annotated[Path | None, typer.Option("--index-dir", help="Index directory [env: QA_INDEX_DIR; default .qa/index]")]
StoreUrl = Annotated[
    str | None,
    typer.Option("--store-url", help="Index store: a directory or postgresql://... [env: QA_STORE_URL; default --index-dir]"),
]
StoreReadUrl = Annotated[
    str | None,
    typer.Option("--store-read-url", help="postgresql://... that reads go to, e.g. a standby [env: QA_STORE_READ_URL]"),
]
Model = Annotated[str | None, typer.Option("--model", help="Embedding model name or path [env: QA_MODEL]")]
Backend = Annotated[str | None, typer.Option("--backend", help="Encoder runtime: onnx-int8, onnx or torch [env: QA_BACKEND]")]
TopK = Annotated[
    int | None, typer.Option("-k", "--top-k", help="Passages the answer is chosen from, 1..50 [env: QA_TOP_K; default 5]")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of formatted text.")]
UseReader = Annotated[
    bool | None,
    typer.Option("--reader/--no-reader", help="Read the best sentences with the neural reader [env: QA_READER; default on]"),
]
StateUrl = Annotated[
    str | None,
    typer.Option(
        "--state-url",
        help="Shared state for conversations, Slack dedupe and the Socket Mode leader: memory:// or redis://host:port/db "
        "[env: QA_STATE_URL; default memory://]",
    ),
]


def _warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}")
    return typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """The CLI's one mapping of core errors to a message and an exit code."""
    try:
        yield
    except QAError as exc:
        raise _fail(str(exc), EXIT_CODES[exc.kind]) from None


@contextmanager
def _progress_bar(label: str) -> Iterator:
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("passages"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


FLAGS = {
    "index_dir": "--index-dir",
    "store_url": "--store-url",
    "store_read_url": "--store-read-url",
    "model": "--model",
    "backend": "--backend",
    "top_k": "-k",
    "max_passage_chars": "--max-passage-chars",
    "state_url": "--state-url",
    "reader": "--reader",
}


def _settings(**flags: object) -> Settings:
    """Settings from the environment with these flags on top, validated together (exit 2 if bad)."""
    with _user_errors():
        settings = get_settings(flags=FLAGS, **flags)
    configure_logging(settings)
    return settings


def _pipeline(settings: Settings) -> QAPipeline:
    """A pipeline for an interactive command; the bundled demo corpus is indexed if there is no index."""
    pipeline = QAPipeline(settings)
    if not pipeline.store.exists():
        err.print(f"No index in {pipeline.store.location}; indexing the bundled demo corpus first.")
        with _progress_bar("Indexing") as progress:
            pipeline.build_bundled_index(_warn, progress)
    return pipeline


def _server_pipeline(settings: Settings) -> QAPipeline:
    """A pipeline for `serve` and `slack`: they refuse to start without a built index or shared state."""
    pipeline = QAPipeline(settings)
    pipeline.require_index()
    pipeline.state.check()  # an unreachable Redis is one line and exit 1 now, not a 503 later
    pipeline.warm_up()  # before accepting requests
    return pipeline


def _for_each_input(argument: str, handle: Callable[[str], None]) -> None:
    """Handle the argument itself, or each non-blank stdin line when it is '-' (bad lines are skipped)."""
    if argument != "-":
        handle(argument)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            handle(line.rstrip("\n"))
        except QuestionError as exc:
            _warn(f"skipped line: {exc}")


def _where(pipeline: QAPipeline, doc_id: str, start: int, end: int, url: str | None) -> str:
    """A link when there is one, else the file the document came from and the character offsets."""
    if url:
        return f"[link={url}]{escape(url)}[/link]"
    doc = pipeline.index.documents.get(doc_id)
    origin = (doc.source if doc else None) or doc_id
    return escape(f"{origin}, characters {start}-{end}")


def print_answer(answer: Answer, pipeline: QAPipeline) -> None:
    if not answer.answered:
        out.print(f"[bold yellow]No answer.[/] {escape(answer.message or '')}")
        return
    text = answer.answer or ""
    if answer.short_answer and text.startswith(f"{answer.short_answer} — "):
        # The direct answer stands out; the evidence sentence follows it.
        out.print(f"[bold green]{escape(answer.short_answer)}[/] — " + escape(text[len(answer.short_answer) + 3 :]))
    else:
        out.print(escape(text))
    out.print()
    for citation in answer.citations:
        first = citation.sources[0]
        meta = ", ".join(x for x in (first.publisher, citation.published) if x)
        out.print(f"[bold cyan][{citation.n}][/] {escape(citation.title)}" + (f" [dim]({escape(meta)})[/]" if meta else ""))
        out.print("    " + _where(pipeline, citation.doc_id, citation.start, citation.end, citation.url))
        for other in citation.sources[1:]:
            other_meta = ", ".join(x for x in (other.publisher, other.published) if x)
            out.print(f"    also reported in: {escape(other.title)}" + (f" [dim]({escape(other_meta)})[/]" if other_meta else ""))
            out.print("    " + _where(pipeline, other.doc_id, other.start, other.end, other.url))
    out.print(f"[dim]{answer.took_ms:.0f} ms[/]")


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of .txt, .md, .html, .jsonl articles.")],
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Discard the existing index and start over.")] = False,
    max_passage_chars: Annotated[int | None, typer.Option(help="Passage length bound [env: QA_MAX_PASSAGE_CHARS]")] = None,
) -> None:
    """Index articles incrementally: only new or changed documents are embedded; vanished files are dropped."""
    from qa.ingest.sources import index_root, load_documents
    from qa.ingest.tagging import SpanTagger

    settings = _settings(
        index_dir=index_dir,
        store_url=store_url,
        store_read_url=store_read_url,
        model=model,
        backend=backend,
        max_passage_chars=max_passage_chars,
    )
    pipeline = QAPipeline(settings)
    skipped_files: list[str] = []

    def warn(message: str) -> None:
        if message.startswith("skipped"):
            skipped_files.append(message)
        _warn(message)

    with _user_errors():
        with pipeline.store.lock(wait_s=0):
            documents = list(load_documents(paths, warn))
            with _progress_bar("Embedding") as progress:
                report = pipeline.store.build(
                    documents,
                    pipeline.encoder,
                    settings.max_passage_chars,
                    progress,
                    scanned_roots=[index_root(p) for p in paths],
                    ann_threshold=settings.ann_threshold,
                    tagger=SpanTagger(settings.ner_model),
                    rebuild=rebuild,
                )
    for doc_id in report.skipped_duplicates:
        _warn(f"duplicate doc id {doc_id!r}: kept the first one")
    err.print(
        f"added {len(report.added)}, updated {len(report.updated)}, removed {len(report.removed)}, "
        f"unchanged (skipped) {len(report.unchanged)} documents; {len(skipped_files)} files skipped; "
        f"{report.encoded} passages embedded"
    )
    state = "published" if report.changed else "unchanged"
    err.print(
        f"Index {state}: {report.documents} documents, {report.passages} passages in "
        f"{escape(pipeline.store.location)} (snapshot {report.version})"
    )


@app.command()
def docs(
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
    as_json: AsJson = False,
) -> None:
    """List the indexed documents: id, title, date, passages."""
    from rich.table import Table

    with _user_errors():
        index = QAPipeline(
            _settings(index_dir=index_dir, store_url=store_url, store_read_url=store_read_url, model=model, backend=backend)
        ).store_index()
        counts = index.passage_counts()
        documents = list(index.documents.values())
    rows = [
        {
            "doc_id": d.doc_id,
            "title": d.title,
            "published": d.published,
            "publisher": d.publisher,
            "passages": counts.get(d.doc_id, 0),
            "source": d.source,
        }
        for d in documents
    ]
    if as_json:
        print(json.dumps({"index_version": index.version, "documents": rows}, ensure_ascii=False))
        return
    table = Table("doc_id", "title", "date", "passages", title=f"{len(rows)} documents (snapshot {index.version})")
    for row in rows:
        table.add_row(
            escape(str(row["doc_id"])), escape(str(row["title"])[:70]), str(row["published"] or ""), str(row["passages"])
        )
    out.print(table)


@app.command()
def remove(
    doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to delete (see `qa docs`).")],
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
) -> None:
    """Delete documents from the index (a new snapshot without them is published)."""
    settings = _settings(index_dir=index_dir, store_url=store_url, store_read_url=store_read_url, model=model, backend=backend)
    pipeline = QAPipeline(settings)
    with _user_errors():
        with pipeline.store.lock(wait_s=0):
            removed, unknown = pipeline.store.remove(doc_ids, settings.model, settings.backend)
    for doc_id in unknown:
        _warn(f"no document {doc_id!r} in the index")
    err.print(f"removed {len(removed)} documents" + (f": {', '.join(removed)}" if removed else ""))
    if unknown and not removed:
        raise typer.Exit(1)


@app.command()
def migrate(store_url: StoreUrl = None) -> None:
    """Create or upgrade the index schema in PostgreSQL (QA_STORE_URL); `qa index` and servers on the primary do it too."""
    from qa.stores.postgres.store import PgStore

    settings = _settings(store_url=store_url)
    if not settings.postgres:
        raise _fail("qa migrate is for PostgreSQL: set QA_STORE_URL (or --store-url) to a postgresql:// URL", 2)
    with _user_errors():
        applied = PgStore(str(settings.store_url)).migrate()
    err.print(f"schema of {settings.store_location} is current ({applied} migrations applied)")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, or '-' to read one question a line from stdin.")],
    as_json: AsJson = False,
    top_k: TopK = None,
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
    reader: UseReader = None,
) -> None:
    """Answer a question with numbered citations (builds the demo index on first use)."""
    settings = _settings(
        index_dir=index_dir,
        store_url=store_url,
        store_read_url=store_read_url,
        model=model,
        backend=backend,
        top_k=top_k,
        reader=reader,
    )
    links = LinkBuilder(settings.public_url)

    def handle(line: str) -> None:
        answer = links.answer(pipeline.ask(line, top_k=settings.top_k))
        if as_json:
            print(answer.model_dump_json(), flush=True)
        else:
            print_answer(answer, pipeline)

    with _user_errors():
        if question != "-":
            check_question(question)  # fail before loading anything
        pipeline = _pipeline(settings)
        _for_each_input(question, handle)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Search text, or '-' to read one query a line from stdin.")],
    k: Annotated[int, typer.Option("-k", "--top-k", help="Number of passages, 1..50.")] = 10,
    as_json: AsJson = False,
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
) -> None:
    """Ranked passages for a query: retrieval only, no answer extraction."""
    settings = _settings(
        index_dir=index_dir, store_url=store_url, store_read_url=store_read_url, model=model, backend=backend, top_k=k
    )
    links = LinkBuilder(settings.public_url)

    def handle(line: str) -> None:
        response = links.search(pipeline.search(line, settings.top_k))
        if as_json:
            print(response.model_dump_json(), flush=True)
            return
        for rank, result in enumerate(response.results, start=1):
            out.print(
                f"[bold cyan]{rank:>2}.[/] [bold]{escape(result.title)}[/] [dim]{result.doc_id} {result.start}-{result.end} score {result.score:.3f}[/]"
            )
            out.print(f"    {escape(result.passage)}")

    with _user_errors():
        if query != "-":
            check_question(query)
        pipeline = _pipeline(settings)
        _for_each_input(query, handle)


@app.command()
def chat(
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
    reader: UseReader = None,
    state_url: StateUrl = None,
) -> None:
    """Interactive questions; follow-ups ("When was that?") refer back to earlier turns."""
    settings = _settings(
        index_dir=index_dir,
        store_url=store_url,
        store_read_url=store_read_url,
        model=model,
        backend=backend,
        state_url=state_url,
        reader=reader,
    )
    links = LinkBuilder(settings.public_url)
    with _user_errors():
        pipeline = _pipeline(settings)
        pipeline.state.check()
        pipeline.warm_up()
        conversation_id = pipeline.conversations.start()
    out.print("[dim]Ask a question; an empty line, 'exit' or Ctrl-D ends the chat.[/]")
    while True:
        try:
            question = out.input("[bold green]you>[/] ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            break
        if question.strip().lower() in {"", "exit", "quit"}:
            break
        try:
            print_answer(links.answer(pipeline.ask(question, conversation_id=conversation_id)), pipeline)
        except QuestionError as exc:
            _warn(str(exc))
        except QAError as exc:  # e.g. the shared state went away, or the conversation was forgotten
            raise _fail(str(exc), EXIT_CODES[exc.kind]) from None


@app.command("eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="Questions, one JSON object a line: question, answers, docs, answerable.")],
    as_json: AsJson = False,
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
    reader: UseReader = None,
) -> None:
    """Score answers, abstentions and retrieval on a question file; list every miss."""
    from qa.evaluation.questions import evaluate_file

    settings = _settings(
        index_dir=index_dir, store_url=store_url, store_read_url=store_read_url, model=model, backend=backend, reader=reader
    )
    with _user_errors():
        report = evaluate_file(_pipeline(settings), file)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        report.print(out)
    raise typer.Exit(0)


Host = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
    reader: UseReader = None,
    state_url: StateUrl = None,
) -> None:
    """Serve the HTTP API, the chat page (/) and the source viewer (/sources/ID) with uvicorn."""
    import uvicorn

    from api.app import create_app

    settings = _settings(
        index_dir=index_dir,
        store_url=store_url,
        store_read_url=store_read_url,
        model=model,
        backend=backend,
        state_url=state_url,
        reader=reader,
    )
    with _user_errors():
        pipeline = _server_pipeline(settings)
    err.print(f"Serving on http://{host}:{port} (docs at /docs)")
    uvicorn.run(create_app(pipeline), host=host, port=port, log_level=settings.log_level.lower())


@app.command()
def slack(
    host: Host = "127.0.0.1",
    port: Port = 3000,
    index_dir: IndexDir = None,
    store_url: StoreUrl = None,
    store_read_url: StoreReadUrl = None,
    model: Model = None,
    backend: Backend = None,
    reader: UseReader = None,
    state_url: StateUrl = None,
) -> None:
    """Run the Slack bot: Socket Mode if SLACK_APP_TOKEN is set, else HTTP mode on /slack/events.

    In Socket Mode with QA_STATE_URL on Redis, one process holds the connection and others stand by."""
    from urllib.parse import urlparse

    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    from bot.app import SlackBot

    settings = _settings(
        index_dir=index_dir,
        store_url=store_url,
        store_read_url=store_read_url,
        model=model,
        backend=backend,
        state_url=state_url,
        reader=reader,
    )
    if settings.slack_bot_token is None:
        raise _fail("SLACK_BOT_TOKEN is not set: export the bot token (xoxb-...) from your Slack app's OAuth page")
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise _fail(
            "set SLACK_APP_TOKEN (xapp-..., Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) from your Slack app's settings"
        )
    if settings.public_url is None:
        _warn("QA_PUBLIC_URL is not set: sources link only to articles' own URLs; set it to where `qa serve` is reachable")
    elif urlparse(settings.public_url).hostname in {"localhost", "127.0.0.1", "::1", "0.0.0.0"}:
        _warn(
            f"QA_PUBLIC_URL is {settings.public_url}: Slack users cannot open links to localhost; "
            "set it to the public address of `qa serve`"
        )
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)  # bolt warns about its own defaults
    with _user_errors():
        pipeline = _server_pipeline(settings)
    try:
        bot = SlackBot(pipeline, settings)
    except (BoltError, SlackApiError) as exc:
        raise _fail(f"Slack did not accept SLACK_BOT_TOKEN ({exc}); check the token") from None
    except OSError as exc:  # includes URLError: Slack's Web API could not be reached
        raise _fail(
            f"cannot reach the Slack Web API at {settings.slack_api_url} ({exc}); check QA_SLACK_API_URL and the network"
        ) from None
    if settings.slack_app_token is not None:
        import signal
        import threading

        from bot.server import SOCKET_MODE_LEADER, run_socket_mode

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # give the lock up at once: a standby takes over
        leader = pipeline.state.leader(SOCKET_MODE_LEADER)
        try:
            run_socket_mode(bot, settings.slack_app_token.get_secret_value(), leader, lambda line: err.print(escape(line)), stop)
        except KeyboardInterrupt:
            pass
        except (SlackApiError, OSError) as exc:
            raise _fail(
                f"cannot open a Slack Socket Mode connection ({exc}); check SLACK_APP_TOKEN and QA_SLACK_API_URL"
            ) from None
        return
    import uvicorn

    from bot.server import http_app

    err.print(f"Slack bot listening on http://{host}:{port}/slack/events")
    uvicorn.run(http_app(bot), host=host, port=port, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
