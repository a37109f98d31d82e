"""`qa serve --workers N`: several uvicorn worker processes on one port, one Redis between them.

- how many workers: one per core with Redis, one without (saying why), and `--workers 2` without
  Redis refused with exit 2 naming the setting; inference threads divided among the workers;
- a real `qa serve --workers 2`: both workers load and say so, answers and a conversation work
  through the one port, `/metrics` counts every worker's requests, and stopping the server stops
  the workers; a worker that cannot load stops the server (exit 1) instead of being restarted.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from helpers import SHOIGU, Server, qa_process, run_qa
from processes import free_port, wait_until

from api.serving import plan_workers, worker_settings
from qa.config import get_settings

FOLLOW_UP = ("Which fighter jets did Iran finalize a deal to buy from Russia?", "When was that?")
REDIS = "redis://127.0.0.1:6399/0"  # never connected to: plan_workers only reads the setting


def test_one_worker_per_core_only_with_shared_state():
    assert plan_workers(get_settings(state_url=REDIS), cores=8).workers == 8
    alone = plan_workers(get_settings(state_url="memory://"), cores=8)
    assert alone.workers == 1 and alone.note and "memory" in alone.note and "redis://" in alone.note
    assert plan_workers(get_settings(state_url="memory://", workers=1), cores=8).workers == 1
    assert plan_workers(get_settings(state_url=REDIS, workers=3), cores=8).workers == 3
    # QA_THREADS=0 ("all cores") is each worker's share; an explicit value is kept
    assert worker_settings(get_settings(state_url=REDIS, threads=0), 4, cores=8).threads == 2
    assert worker_settings(get_settings(state_url=REDIS, threads=0), 16, cores=8).threads == 1
    assert worker_settings(get_settings(state_url=REDIS, threads=3), 4, cores=8).threads == 3
    assert worker_settings(get_settings(threads=0), 1, cores=8).threads == 0


def test_several_workers_without_redis_is_refused(index_dir):
    result = run_qa("serve", "--index-dir", str(index_dir), "--workers", "2", env={"QA_STATE_URL": "memory://"})
    assert result.returncode == 2
    assert "--workers 2" in result.stderr and "QA_STATE_URL" in result.stderr and "redis://" in result.stderr


@pytest.mark.slow
def test_a_worker_that_cannot_load_stops_the_server(index_dir, redis_url):
    """Not restarted forever: its one line, then the server's, exit 1."""
    result = qa_process(
        *("serve", "--index-dir", str(index_dir), "--workers", "2", "--port", str(free_port())),
        env={"QA_STATE_URL": redis_url, "QA_MODEL": "/no/such/model"},
        timeout=120,
    )
    assert result.returncode == 1
    assert "/no/such/model" in result.stderr and "a worker process could not start" in result.stderr
    assert "Traceback" not in result.stderr


def ready_workers(server: Server) -> set[int]:
    return {int(pid) for pid in re.findall(r"^worker (\d+) ready$", server.output(), re.MULTILINE)}


def gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()  # exited, not yet reaped
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_two_worker_processes_serve_one_port(index_dir, redis_url):
    env = {"QA_STATE_URL": redis_url, "QA_PUBLIC_URL": ""}
    server = Server(["serve", "--index-dir", str(index_dir), "--workers", "2"], env=env)
    try:
        wait_until(lambda: len(ready_workers(server)) == 2, 120, "both workers loaded", interval=0.2)
        workers = ready_workers(server)
        assert "with 2 worker processes" in server.output() and server.process.pid not in workers
        # a new connection each time, so that the kernel may hand it to either worker
        answers = [httpx.post(server.url + "/ask", json={"question": SHOIGU}, timeout=60).json() for _ in range(4)]
        assert all(a["answered"] and "September" in a["answer"] for a in answers)
        assert all(a["citations"][0]["url"].startswith(server.url + "/sources/") for a in answers)
        first = httpx.post(server.url + "/ask", json={"question": FOLLOW_UP[0], "start_conversation": True}, timeout=60).json()
        follow = httpx.post(
            server.url + "/ask", json={"question": FOLLOW_UP[1], "conversation_id": first["conversation_id"]}, timeout=60
        ).json()
        assert follow["conversation_id"] == first["conversation_id"] and follow["answered"]
        # whichever worker answers the scrape reports all six answers (prometheus-client multiprocess mode)
        metrics = httpx.get(server.url + "/metrics", timeout=10).text
        assert 'qa_http_requests_total{endpoint="/ask",status="200"} 6.0' in metrics
        assert "Content-Security-Policy" in httpx.get(server.url + "/no/such/page", timeout=10).headers
    finally:
        server.stop()
    assert server.process.returncode == 0
    wait_until(lambda: all(gone(pid) for pid in workers), 20, "the workers exiting with the server")
