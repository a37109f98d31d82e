"""What every HTTP response goes through: Prometheus metrics and the security headers.

`Observe` is plain ASGI middleware, not Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`),
which wraps each request and response in extra objects, tasks and a memory stream. It sees the
`http.response.start` message of every response the app sends (answers, errors, 404s, static
files, streamed bodies) and adds the headers the response does not set itself. The request is
counted and timed when the response is complete, under its route's path template
("/sources/{doc_id:path}"), or "unmatched" where the router names no route (404s, and the mounted
static files, as before), so the label set stays bounded.

With several `qa serve` worker processes, each counts in files under `PROMETHEUS_MULTIPROC_DIR`
(prometheus-client's multiprocess mode, set up by `api.serving`) and `/metrics` adds them up, so
whichever worker answers the scrape reports the whole server.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
Headers = list[tuple[bytes, bytes]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram(
            "qa_http_request_seconds",
            "Request latency",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.answers = Counter("qa_answers", "Questions answered", registry=self.registry)
        self.abstentions = Counter("qa_abstentions", "Questions declined for lack of support", registry=self.registry)

    def exposition(self) -> bytes:
        """The Prometheus text format: this process's metrics, or every worker's in multiprocess mode."""
        if not os.environ.get(MULTIPROCESS_ENV):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def raw_headers(headers: Mapping[str, str]) -> Headers:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class Observe:
    """ASGI middleware: `headers` (or `by_path[path]`) on every HTTP response, unless the response
    sets that header itself, and each request counted and timed in `metrics`."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, headers: Mapping[str, str], by_path: Mapping[str, Mapping[str, str]]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.headers = raw_headers(headers)
        self.by_path = {path: raw_headers(h) for path, h in by_path.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (and websockets, which this app has none of)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        extra = self.by_path.get(scope["path"], self.headers)
        status = 500  # what the client gets if the app raises before it starts a response

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            # The router records the matched route in the request's scope (the same dict).
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
