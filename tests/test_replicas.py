"""Several real processes sharing one Redis (QA_STATE_URL): they behave as one deployment.

- two `qa serve` replicas on one index continue one conversation: started on A, followed up on B;
- one Slack event delivered to two `qa slack` replicas (HTTP mode, signed) at the same moment is
  answered exactly once;
- two `qa slack` processes in Socket Mode (against a local websocket stand-in handed out by the
  fake Web API's apps.connections.open): one leads and holds the only connection, the other stands
  by; after `kill -9` of the leader the standby connects within seconds and answers; a leader whose
  lock is taken from it disconnects.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis
from fake_slack import SIGNING_SECRET, FakeSlack, event_body, signed_headers
from helpers import CACHE_DIR, ROOT, SHOIGU, Server
from processes import stop_process, wait_until

FOLLOW_UP = ("Which fighter jets did Iran finalize a deal to buy from Russia?", "When was that?")


@pytest.mark.slow
def test_a_conversation_started_on_one_replica_continues_on_another(index_dir, redis_url):
    env = {"QA_STATE_URL": redis_url, "QA_PUBLIC_URL": ""}
    # One worker process each: the replicas are what is tested here (several workers: test_workers.py).
    a = Server(["serve", "--index-dir", str(index_dir), "--workers", "1"], env=env)
    b = Server(["serve", "--index-dir", str(index_dir), "--workers", "1"], env=env)
    try:
        first = httpx.post(a.url + "/ask", json={"question": FOLLOW_UP[0], "start_conversation": True}, timeout=30).json()
        cid = first["conversation_id"]
        assert cid and "Su-35" in first["answer"]
        follow = httpx.post(b.url + "/ask", json={"question": FOLLOW_UP[1], "conversation_id": cid}, timeout=30).json()
        assert follow["conversation_id"] == cid and follow["answered"]
        assert "last month" in follow["answer"] or "earlier this year" in follow["answer"]
        # Without the conversation the same words have nothing to refer to: B really used A's turn.
        alone = httpx.post(b.url + "/ask", json={"question": FOLLOW_UP[1]}, timeout=30).json()
        assert not alone["answered"]
        # Both turns were saved where every replica sees them.
        turns = json.loads(str(redis.Redis.from_url(redis_url, decode_responses=True).get(f"qa:conversation:rec:{cid}")))["turns"]
        assert [t["question"] for t in turns] == list(FOLLOW_UP)
        unknown = httpx.post(a.url + "/ask", json={"question": FOLLOW_UP[1], "conversation_id": "nope"}, timeout=30)
        assert unknown.status_code == 404
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def fake_slack():
    fake = FakeSlack(socket_mode=True)
    yield fake
    fake.close()


def slack_env(fake: FakeSlack, redis_url: str, tmp_path: Path, **extra: str) -> dict:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": "",
        "QA_SLACK_API_URL": fake.url + "/api/",
        "QA_FEEDBACK_LOG": str(tmp_path / "votes.jsonl"),
        "QA_PUBLIC_URL": "https://qa.example.com",
        "QA_STATE_URL": redis_url,
        **extra,
    }


@pytest.mark.slow
def test_one_event_delivered_to_two_replicas_is_answered_once(index_dir, redis_url, fake_slack, tmp_path):
    env = slack_env(fake_slack, redis_url, tmp_path)
    replicas = [Server(["slack", "--index-dir", str(index_dir)], env=env) for _ in range(2)]
    try:
        body = event_body(
            {"type": "app_mention", "user": "U1", "ts": "1700000100.000100", "text": f"<@UBOT> {SHOIGU}", "channel": "CR"},
            "Ev-twice",
        )
        at_once = threading.Barrier(2)
        statuses: list[int] = []

        def deliver(replica: Server) -> None:
            headers = signed_headers(body, "application/json")
            at_once.wait()
            statuses.append(httpx.post(replica.url + "/slack/events", content=body, headers=headers, timeout=10).status_code)

        threads = [threading.Thread(target=deliver, args=(r,)) for r in replicas]
        sent = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert statuses == [200, 200]  # both acknowledged, as Slack requires
        [post] = fake_slack.wait_for("chat.postMessage", 1)
        answered_in = time.monotonic() - sent
        assert post["channel"] == "CR" and "September" in post["blocks"][0]["text"]["text"]
        # The other replica had the event as early: an answer from it would take about as long again.
        assert fake_slack.stays_at(1, 2 * answered_in), "both replicas answered"
    finally:
        for replica in replicas:
            replica.stop()


class SocketModeBot:
    """A `qa slack` process in Socket Mode (no HTTP port); what it prints goes to a log file."""

    def __init__(self, index_dir: Path, env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "slack", "--index-dir", str(index_dir)],
            cwd=ROOT,
            env={**os.environ, "QA_CACHE_DIR": str(CACHE_DIR), "COLUMNS": "400", **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"qa slack exited early:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed within {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self.log.close()


def mention(socket, event_id: str, ts: str) -> str:
    return socket.send_event(
        {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {SHOIGU}", "ts": ts, "channel": "CS"}, event_id
    )


@pytest.mark.slow
def test_socket_mode_has_one_leader_and_fails_over_after_kill_9(index_dir, redis_url, fake_slack, tmp_path):
    socket = fake_slack.socket_mode
    env = slack_env(fake_slack, redis_url, tmp_path, SLACK_APP_TOKEN="xapp-test", SLACK_SIGNING_SECRET="")
    first = SocketModeBot(index_dir, env, tmp_path / "first.log")
    bots = [first]
    try:
        first.wait_for("leader: this process")
        wait_until(lambda: socket.open_count() == 1, 10)
        second = SocketModeBot(index_dir, env, tmp_path / "second.log")
        bots.append(second)
        second.wait_for("standby:")
        assert "leader:" not in second.output()
        holder = str(redis.Redis.from_url(redis_url, decode_responses=True).get("qa:leader:slack-socket-mode"))
        assert f":{first.process.pid}:" in holder and holder in second.output()  # the standby names who leads

        envelope = mention(socket, "Ev-socket-1", "1700000200.000100")
        [post] = fake_slack.wait_for("chat.postMessage", 1)
        assert post["channel"] == "CS" and "September" in post["blocks"][0]["text"]["text"]
        wait_until(lambda: envelope in socket.acks, 5)

        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        took = wait_until(lambda: "leader: this process" in second.output() and socket.open_count() == 1, 12)
        assert took < 9, f"the standby took {took:.1f} s to take over"  # lock TTL 5 s + a heartbeat + connecting
        assert socket.connections == 2 and socket.most_open == 1  # never two connections at once

        mention(socket, "Ev-socket-2", "1700000201.000100")
        posts = fake_slack.wait_for("chat.postMessage", 2)
        assert len(posts) == 2 and posts[1]["channel"] == "CS"

        # A leader that can no longer renew its lock (here: another holder took it) disconnects.
        redis.Redis.from_url(redis_url).set("qa:leader:slack-socket-mode", "someone-else", px=60_000)
        wait_until(lambda: socket.open_count() == 0, 5)
        second.wait_for("lost the leader lock", 5)
        assert second.process.poll() is None  # standing by again, not dead
        redis.Redis.from_url(redis_url).delete("qa:leader:slack-socket-mode")
        wait_until(lambda: socket.open_count() == 1, 10)  # and leads again once the lock is free
        assert socket.most_open == 1
    finally:
        for bot in bots:
            bot.stop()
