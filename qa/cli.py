"""The `qa` command line: index, ask, search, chat, eval (and the servers).

Each command is a thin shell over `QAPipeline` (or, for `qa slack`, over the bot's own start-up in
`bot.server`): it parses options, calls the core and prints. Every `QAError` is mapped here, once:
one line naming the fix, exit 2 for unusable input (a bad flag or environment value included), 1
when the index, model or corpus cannot serve; never a traceback.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from qa.config import Settings, allowed, configure_logging, env_name, get_settings
from qa.daterange import BOUND_FORMATS, DateRange
from qa.errors import EXIT_CODES, QAError, QuestionError
from qa.links import LinkBuilder
from qa.pipeline import SEARCH_K, QAPipeline, check_question
from qa.schema import Answer

app = typer.Typer(
    help="Ask questions of a folder of news articles; answers cite the passages they come from.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # messages stay one line: greppable, copyable

# ---- options that set a setting ------------------------------------------------------------------
# Declared once, here: the flags of each `Settings` field that has any. Everything else about the
# option (its type, help, range, the variable that also sets it, the default --help shows) is read
# from that field, the same description and default the README's configuration table gives, so the
# help cannot drift from what the setting does. The option's own default is None, "not given": the
# environment or the setting's default applies, and Settings validates a flag like a variable.
SETTING_FLAGS: dict[str, tuple[str, ...]] = {
    "index_dir": ("--index-dir",),
    "store_url": ("--store-url",),
    "store_read_url": ("--store-read-url",),
    "model": ("--model",),
    "backend": ("--backend",),
    "top_k": ("-k", "--top-k"),
    "max_passage_chars": ("--max-passage-chars",),
    "reader": ("--reader/--no-reader",),
    "state_url": ("--state-url",),
    "workers": ("--workers",),
}
FLAGS = {field: flags[0].split("/")[0] for field, flags in SETTING_FLAGS.items()}  # how a bad value is reported
INDEX = ("index_dir", "store_url", "store_read_url", "model", "backend")  # every command that opens the index
ANSWERING = (*INDEX, "reader")  # ... and answers
CONVERSING = (*ANSWERING, "state_url")  # ... and keeps conversations: chat and the servers


def shown_default(value: object) -> str:
    """A setting's default as --help and the README show it (booleans as on/off, like QA_READER=off)."""
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def setting_option(field: str) -> Any:
    """The `Annotated` parameter type of the option that sets `field`."""
    info = Settings.model_fields[field]
    kind: Any = info.annotation
    if get_origin(kind) in (Union, UnionType):
        kind = next(arg for arg in get_args(kind) if arg is not NoneType)
    choices = get_origin(kind) is Literal
    parts = [info.description or ""]
    if choices or info.metadata:  # the choices, or a range (Ge, Le, ...)
        parts.append(f"Allowed: {allowed(field)}.")
    parts.append(escape(f"[env: {env_name(field)}]"))  # escaped: rich would read square brackets as markup
    if info.default is not None:
        parts.append(escape(f"[default: {shown_default(info.default)}]"))
    # choices are parsed as text so that Settings, not the parser, reports a bad one in its one line
    return Annotated[(str if choices else kind) | None, typer.Option(*SETTING_FLAGS[field], help=" ".join(parts))]


def with_settings(
    *fields: str, also: dict[str, str] | None = None, dates: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options of these settings, and call it with `settings`, the validated
    Settings (environment, then flags), in their place.

    `also` maps options the command declares itself to the setting that validates them: `search -k`
    has its own default but the same range and message as QA_TOP_K. `dates` adds `--since` and
    `--until`, and the command gets `dates`, the range they name (None: no filter). Typer reads a
    command's options from its signature, so the wrapper's signature is the command's own plus these.
    """
    bounds = {"since": Since, "until": Until} if dates else {}

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [parameter for name, parameter in signature.parameters.items() if name not in ("settings", "dates")]
        options = [
            inspect.Parameter(field, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
            for field, annotation in [*((field, setting_option(field)) for field in fields), *bounds.items()]
        ]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            flags = {field: values.pop(field) for field in fields}
            flags |= {field: values[name] for name, field in (also or {}).items()}
            if dates:
                values["dates"] = _date_range(values.pop("since"), values.pop("until"))
            command(settings=_settings(**flags), **values)

        run.__signature__ = signature.replace(parameters=[*own, *options])  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in [*own, *options]}
        return run

    return decorate


AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of formatted text.")]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="DATE",
        help=f"Only articles published on or after DATE ({BOUND_FORMATS}; a month or year from its first day). "
        "Undated articles are left out.",
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="DATE",
        help=f"Only articles published on or before DATE ({BOUND_FORMATS}; a month or year through its last day). "
        "Undated articles are left out.",
    ),
]


def _date_range(since: str | None, until: str | None) -> DateRange | None:
    """The range --since/--until name, or None; a bad date is one line and exit 2."""
    with _user_errors():
        return DateRange.parse(since, until, names=("--since", "--until"))


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


class _RateColumn(ProgressColumn):
    """Passages per second, as rich estimates it over the last 30 s."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} passages/s" if task.speed else "", style="progress.data.speed")


@contextmanager
def _progress_bar(label: str) -> Iterator:
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("passages"),
        _RateColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            if bar.tasks[0].total is None:  # the first report: passages reused from the index are no speed
                bar.reset(task, completed=done, total=total)
            else:
                bar.update(task, completed=done, total=total)

        yield update


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


def _for_each_input(settings: Settings, argument: str, handle: Callable[[QAPipeline, str], None]) -> None:
    """Check the argument before loading anything, load the pipeline, then handle the argument
    itself, or each non-blank stdin line when it is '-' (bad lines are skipped)."""
    with _user_errors():
        if argument != "-":
            check_question(argument)
        pipeline = _pipeline(settings)
        if argument != "-":
            handle(pipeline, argument)
            return
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                handle(pipeline, line.rstrip("\n"))
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
    if answer.headline and text.startswith(f"{answer.headline} — "):
        # The direct answer stands out; the evidence sentence follows it.
        out.print(f"[bold green]{escape(answer.headline)}[/] — " + escape(text[len(answer.headline) + 3 :]))
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
@with_settings(*INDEX, "max_passage_chars")
def index(
    settings: Settings,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of .txt, .md, .html, .jsonl articles.")],
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Discard the existing index and start over.")] = False,
) -> None:
    """Index articles incrementally: only new or changed documents are embedded; vanished files are dropped."""
    from qa.ingest.sources import index_root, load_documents
    from qa.ingest.tagging import SpanTagger

    pipeline = QAPipeline(settings)
    skipped_files: list[str] = []

    def warn(message: str) -> None:
        if message.startswith("skipped"):
            skipped_files.append(message)
        _warn(message)

    with _user_errors():
        with pipeline.store.lock(wait_s=0):
            documents = list(load_documents(paths, warn))
            with _progress_bar("Indexing") as progress:
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
@with_settings(*INDEX)
def docs(settings: Settings, as_json: AsJson = False) -> None:
    """List the indexed documents: id, title, date, passages."""
    from rich.table import Table

    with _user_errors():
        index = QAPipeline(settings).store_index()
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
@with_settings(*INDEX)
def remove(
    settings: Settings,
    doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to delete (see `qa docs`).")],
) -> None:
    """Delete documents from the index (a new snapshot without them is published)."""
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
@with_settings("store_url")
def migrate(settings: Settings) -> None:
    """Create or upgrade the index schema in PostgreSQL (QA_STORE_URL); `qa index` and servers on the primary do it too."""
    from qa.stores.postgres.store import PgStore

    if not settings.postgres:
        raise _fail("qa migrate is for PostgreSQL: set QA_STORE_URL (or --store-url) to a postgresql:// URL", 2)
    with _user_errors():
        applied = PgStore(str(settings.store_url)).migrate()
    err.print(f"schema of {settings.store_location} is current ({applied} migrations applied)")


@app.command()
@with_settings("top_k", *ANSWERING, dates=True)
def ask(
    settings: Settings,
    dates: DateRange | None,
    question: Annotated[str, typer.Argument(help="The question, or '-' to read one question a line from stdin.")],
    as_json: AsJson = False,
) -> None:
    """Answer a question with numbered citations (builds the demo index on first use)."""
    links = LinkBuilder(settings.public_url)

    def handle(pipeline: QAPipeline, line: str) -> None:
        answer = links.answer(pipeline.ask(line, top_k=settings.top_k, dates=dates))
        if as_json:
            print(answer.model_dump_json(), flush=True)
        else:
            print_answer(answer, pipeline)

    _for_each_input(settings, question, handle)


# search lists more than the answerer reads (QA_TOP_K, SEARCH_K); its range is the same


@app.command()
@with_settings(*INDEX, also={"k": "top_k"}, dates=True)
def search(
    settings: Settings,
    dates: DateRange | None,
    query: Annotated[str, typer.Argument(help="Search text, or '-' to read one query a line from stdin.")],
    k: Annotated[
        int, typer.Option("-k", "--top-k", help=f"Number of passages. Allowed: {allowed('top_k')}; not set by QA_TOP_K.")
    ] = SEARCH_K,
    as_json: AsJson = False,
) -> None:
    """Ranked passages for a query: retrieval only, no answer extraction."""
    links = LinkBuilder(settings.public_url)

    def handle(pipeline: QAPipeline, line: str) -> None:
        response = links.search(pipeline.search(line, settings.top_k, dates=dates))
        if as_json:
            print(response.model_dump_json(), flush=True)
            return
        for rank, result in enumerate(response.results, start=1):
            out.print(
                f"[bold cyan]{rank:>2}.[/] [bold]{escape(result.title)}[/] [dim]{result.doc_id} {result.start}-{result.end} score {result.score:.3f}[/]"
            )
            out.print(f"    {escape(result.passage)}")

    _for_each_input(settings, query, handle)


@app.command()
@with_settings(*CONVERSING)
def chat(settings: Settings) -> None:
    """Interactive questions; follow-ups ("When was that?") refer back to earlier turns."""
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
@with_settings(*ANSWERING)
def evaluate(
    settings: Settings,
    file: Annotated[Path, typer.Argument(help="Questions, one JSON object a line: question, answers, docs, answerable.")],
    as_json: AsJson = False,
) -> None:
    """Score answers, abstentions and retrieval on a question file; list every miss."""
    from qa.evaluation.questions import evaluate_file

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
@with_settings(*CONVERSING, "workers")
def serve(settings: Settings, host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Serve the HTTP API, the chat page (/) and the source viewer (/sources/ID) with uvicorn.

    With the shared state on Redis, one worker process per core by default; with it in memory, one."""
    from api.serving import run as run_server

    with _user_errors():
        run_server(settings, host, port, say=lambda line: err.print(escape(line)))


@app.command()
@with_settings(*CONVERSING)
def slack(settings: Settings, host: Host = "127.0.0.1", port: Port = 3000) -> None:
    """Run the Slack bot: Socket Mode if SLACK_APP_TOKEN is set, else HTTP mode on /slack/events.

    In Socket Mode with QA_STATE_URL on Redis, one process holds the connection and others stand by."""
    from bot.server import run as run_bot

    with _user_errors():
        run_bot(settings, host, port, say=lambda line: err.print(escape(line)), warn=_warn)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
