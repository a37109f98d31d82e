"""A stand-in for Slack's Web API on loopback: records calls, can answer 429 or errors on demand.

With `socket_mode=True` it also stands in for Socket Mode: `apps.connections.open` hands out the
address of a local websocket server (`FakeSocketMode`) that says hello, delivers events as
`events_api` envelopes and records acknowledgements, as Slack does.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


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
        payload = {
            "token": "x",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
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
                    "payload": payload,
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.posts(method)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        return self.posts(method)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.socket_mode is not None:
            self.socket_mode.close()
