"""Slack's side of the bot's conversations: what Slack sends it, and a stand-in for what it calls.

- `event_body` and `signed_headers`: an Events API delivery, signed as Slack signs it;
- `FakeSlack`: the Web API on loopback; records calls, can answer 429 or errors on demand. With
  `socket_mode=True` it also stands in for Socket Mode: `apps.connections.open` hands out the
  address of a local websocket server (`FakeSocketMode`) that says hello, delivers events as
  `events_api` envelopes and records acknowledgements, as Slack does;
- `ListenerPool`: lets a test wait until an in-process bot has finished handling what it was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App

SIGNING_SECRET = "test-signing-secret"


def event_payload(event: dict, event_id: str) -> dict:
    """The Events API envelope Slack wraps `event` in (posted over HTTP, or inside a Socket Mode message)."""
    return {
        "token": "x",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }


def event_body(event: dict, event_id: str) -> str:
    """What Slack posts to /slack/events to deliver `event`."""
    return json.dumps(event_payload(event, event_id))


def signed_headers(body: str, content_type: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict:
    """Headers of a request signed as Slack signs them: v0 HMAC-SHA256 of the timestamp and body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


class ListenerPool(ThreadPoolExecutor):
    """A Bolt app's listener pool that can say when everything it was given has run.

    Bolt acknowledges a delivery first and runs the bot's listeners afterwards, in this pool. A
    test that checks the bot did *not* reply (a retried event, another bot's message) waits here
    for the listeners to finish: any reply they were going to post has been posted by then."""

    def __init__(self) -> None:
        super().__init__(max_workers=5, thread_name_prefix="bolt-listener")  # Bolt's own default size
        self._submitted: list[Future] = []
        self._submitted_lock = threading.Lock()

    @classmethod
    def install(cls, app: App) -> ListenerPool:
        """Run `app`'s listeners in a new pool of this kind (before any request reaches it)."""
        pool = cls()
        app.listener_runner.listener_executor = pool
        return pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future = super().submit(fn, *args, **kwargs)
        with self._submitted_lock:
            self._submitted.append(future)
        return future

    def wait_idle(self, timeout: float = 30) -> None:
        """Until every listener submitted so far (and any they submitted) has finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self._submitted_lock:
                pending = [f for f in self._submitted if not f.done()]
            if not pending:
                return
            _, not_done = wait(pending, max(0.0, deadline - time.monotonic()))
            if not_done:
                raise TimeoutError(f"{len(not_done)} Slack listeners still running after {timeout} s")


class FakeSocketMode:
    """Socket Mode's websocket end: which connections are open (and the most ever open at once)."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.open: list = []
        self.connections = 0  # ever opened
        self.most_open = 0
        self.acks: list[str] = []
        self._lock = threading.Lock()
        self.server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handle(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            self.open.append(connection)
            self.connections += 1
            self.most_open = max(self.most_open, len(self.open))
        try:
            connection.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}))
            for message in connection:
                envelope = json.loads(message)
                if envelope.get("envelope_id"):
                    with self._lock:
                        self.acks.append(envelope["envelope_id"])
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.open.remove(connection)

    def open_count(self) -> int:
        with self._lock:
            return len(self.open)

    def send_event(self, event: dict, event_id: str) -> str:
        """Deliver an event to the one open connection; returns the envelope id Slack expects acknowledged."""
        envelope_id = uuid.uuid4().hex
        with self._lock:
            [connection] = self.open
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                    "payload": event_payload(event, event_id),
                }
            )
        )
        return envelope_id

    def close(self) -> None:
        self.server.shutdown()


class FakeSlack:
    def __init__(self, socket_mode: bool = False) -> None:
        self.socket_mode = FakeSocketMode() if socket_mode else None
        self.calls: list[tuple[str, dict, int]] = []  # (path, body, HTTP status)
        self.rate_limit_next = 0  # answer this many chat.postMessage calls with 429 + Retry-After
        self.server_errors_next = 0
        self.failing_channels: set[str] = set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                status, headers, payload = fake.respond(self.path, body)
                with fake._lock:
                    fake.calls.append((self.path, body, 400 if status == 200 and not payload.get("ok") else status))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def respond(self, path: str, body: dict) -> tuple[int, dict, dict]:
        method = path.rsplit("/", 1)[-1]
        with self._lock:
            if method == "apps.connections.open" and self.socket_mode is not None:
                return 200, {}, {"ok": True, "url": self.socket_mode.url}
            if method == "auth.test":
                return 200, {}, {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "qa"}
            if method == "chat.postMessage":
                if self.rate_limit_next > 0:
                    self.rate_limit_next -= 1
                    return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
                if self.server_errors_next > 0:
                    self.server_errors_next -= 1
                    return 503, {}, {"ok": False, "error": "service_unavailable"}
                if body.get("channel") in self.failing_channels:
                    return 200, {}, {"ok": False, "error": "channel_not_found"}
                return 200, {}, {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}"}
            return 200, {}, {"ok": True}

    def posts(self, method: str = "chat.postMessage") -> list[dict]:
        """Calls of `method` that succeeded."""
        with self._lock:
            return [body for path, body, status in self.calls if path.endswith(method) and status == 200]

    def attempts(self, method: str = "chat.postMessage") -> list[tuple[dict, int]]:
        with self._lock:
            return [(body, status) for path, body, status in self.calls if path.endswith(method)]

    def wait_for(self, method: str, count: int, timeout: float = 30) -> list[dict]:
        """The successful `method` calls once there are `count` of them (or all there are after `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(found := self.posts(method)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def stays_at(self, count: int, seconds: float, method: str = "chat.postMessage") -> bool:
        """Whether the successful `method` calls stay at `count` for `seconds`: False the moment one more
        arrives. For processes whose listeners a test cannot see (in process, `ListenerPool.wait_idle`)."""
        deadline = time.monotonic() + seconds
        while len(self.posts(method)) <= count:
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.socket_mode is not None:
            self.socket_mode.close()
