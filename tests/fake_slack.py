"""A stand-in for Slack's Web API on loopback: records calls, can answer 429 or errors on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeSlack:
    def __init__(self) -> None:
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
