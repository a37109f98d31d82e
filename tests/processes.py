"""Throwaway processes for the tests: a free loopback port, a bounded wait, a clean stop.

Standard library only: the server scripts that run outside pytest (`redis_server.py --which`
from the Makefile, `pgcluster.py`) import it without pulling in the package under test.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable


def free_port() -> int:
    """A loopback port nothing listens on now (the OS's pick, so parallel sessions do not collide)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str = "the condition", interval: float = 0.05) -> float:
    """Poll `condition` until it is true; returns the seconds it took, raises TimeoutError after `timeout`.

    Tests wait for the thing they need instead of sleeping a fixed time: fast when it comes,
    bounded when it does not. `condition` may raise to stop waiting early (a server that died)."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds; always reaped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
