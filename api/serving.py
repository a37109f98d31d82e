"""`qa serve` under uvicorn: one process, or several worker processes on one listening socket.

One process answers `QA_API_THREADS` questions at once, but the answerer is mostly Python (the
GIL) between two ONNX runs, so one process cannot keep many cores busy; several uvicorn workers
(`QA_WORKERS`) can. Conversations must then be visible to every worker, so more than one needs
shared state in Redis (`QA_STATE_URL`): by default a server runs one worker per usable core with
Redis and one without (saying why), and `--workers N` (N > 1) without Redis is refused.

Each worker is a fresh process (uvicorn spawns them) that loads its own pipeline before it accepts
a connection; the index's vectors are memory-mapped read-only, so the workers share one copy in
the OS page cache. Inference threads (`QA_THREADS=0`, "all cores") are divided among the workers
so that they do not oversubscribe the cores. Metrics are kept in prometheus-client's multiprocess
mode, so `/metrics` adds up every worker.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

from api.observe import MULTIPROCESS_ENV
from qa.config import Settings, SettingsError, configure_logging
from qa.cores import usable_cores
from qa.errors import QAError, Unavailable
from qa.pipeline import QAPipeline

SETTINGS_ENV = "QA_SERVE_WORKER_SETTINGS"  # the parent's validated settings, as JSON, for its workers
WORKER_APP = "api.serving:worker_app"
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that cannot start: its parent stops instead of restarting it
# Not the server's; a worker reads them from the environment, like any unset setting.
SECRETS = {"slack_bot_token", "slack_app_token", "slack_signing_secret"}


@dataclass(frozen=True)
class WorkerPlan:
    workers: int
    note: str | None = None  # why fewer workers than cores, for the operator


def plan_workers(settings: Settings, cores: int | None = None) -> WorkerPlan:
    """How many worker processes to run; `SettingsError` (exit 2) for several without shared state."""
    cores = cores or usable_cores()
    shared = not settings.state_url.startswith("memory:")
    if settings.workers == 0 and shared:
        return WorkerPlan(cores)
    if settings.workers == 0:
        return WorkerPlan(
            1,
            f"1 worker process: conversations live in this process's memory (QA_STATE_URL=memory://); "
            f"with --state-url redis://HOST:PORT/DB it would run one per core ({cores})",
        )
    if settings.workers > 1 and not shared:
        raise SettingsError(
            f"--workers {settings.workers} (QA_WORKERS) needs conversations shared between the processes: set --state-url "
            "(QA_STATE_URL) to redis://HOST:PORT/DB, or serve with --workers 1"
        )
    return WorkerPlan(settings.workers)


def worker_settings(settings: Settings, workers: int, cores: int | None = None) -> Settings:
    """A worker's settings: `threads=0` ("all cores") becomes its share of the cores."""
    if workers <= 1 or settings.threads:
        return settings
    return settings.model_copy(update={"threads": max(1, (cores or usable_cores()) // workers)})


def run(settings: Settings, host: str, port: int, say: Callable[[str], None]) -> None:
    """Check the index and the shared state, then serve until interrupted (one or several workers).

    QAError (exit 1 or 2 in the CLI) for a missing index, an unreachable Redis, or several workers
    without Redis; nothing is listening yet when one is raised."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    plan = plan_workers(settings)
    if plan.note:
        say(plan.note)
    pipeline = QAPipeline(settings)
    pipeline.require_index()  # servers never build an index: a mistyped --index-dir is an error
    pipeline.state.check()  # an unreachable Redis is one line and exit 1 now, not a 503 later
    log_level = settings.log_level.lower()
    if plan.workers == 1:
        from api.app import create_app

        pipeline.warm_up()  # before accepting requests
        say(f"Serving on http://{host}:{port} (docs at /docs)")
        uvicorn.run(create_app(pipeline), host=host, port=port, log_level=log_level)
        return
    del pipeline  # each worker loads its own
    metrics_dir = None if os.environ.get(MULTIPROCESS_ENV) else tempfile.mkdtemp(prefix="qa-metrics-")
    if metrics_dir:
        os.environ[MULTIPROCESS_ENV] = metrics_dir  # before the workers import prometheus-client
    os.environ[SETTINGS_ENV] = worker_settings(settings, plan.workers).model_dump_json(exclude=SECRETS)
    say(f"Serving on http://{host}:{port} with {plan.workers} worker processes (docs at /docs)")
    # What uvicorn.run(..., workers=N) does, keeping the supervisor to see why it stopped.
    config = uvicorn.Config(WORKER_APP, factory=True, workers=plan.workers, host=host, port=port, log_level=log_level)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    try:
        supervisor.run()  # until SIGINT or SIGTERM, or a worker that cannot start
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
        raise Unavailable("a worker process could not start (its error is above); the server stopped")


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory): its own pipeline, loaded before it serves."""
    from api.app import create_app

    settings = Settings(**json.loads(os.environ[SETTINGS_ENV]))
    configure_logging(settings)
    try:
        pipeline = QAPipeline(settings)
        pipeline.require_index()
        pipeline.warm_up()
    except QAError as exc:  # one line, and the parent stops rather than restarting the worker forever
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
    app = create_app(pipeline)
    print(f"worker {os.getpid()} ready", file=sys.stderr, flush=True)
    return app
