"""The shared state (QA_STATE_URL): the same behaviour from memory:// and from a real Redis.

Records (conversations) expire when idle and are bounded, least recently used first; a record is
changed under a lock every holder respects; dedupe is set-if-absent with a TTL; the leader lock is
held by one at a time, renewed while alive, and reported lost when someone else has it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
import redis
from fastapi.testclient import TestClient
from helpers import run_qa
from processes import free_port, wait_until

from api.app import create_app
from qa.conversation import ConversationService
from qa.errors import ConversationNotFound, ErrorKind
from qa.pipeline import QAPipeline
from qa.state import DEDUPE_TTL_S, Codec, MemoryState, State, StateUnavailable, open_state
from qa.state.redis import RedisState


@dataclass
class Counter:
    n: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


T = TypeVar("T")
COUNTER = Codec(lambda c: json.dumps({"n": c.n}), lambda text: Counter(json.loads(text)["n"]))


@pytest.fixture(params=["memory", "redis"])
def state_url(request) -> str:
    return "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")


def replicas(url: str, make: Callable[[State], T], count: int = 2) -> list[T]:
    """`count` processes' views of one store: memory:// has one process, so one view shared by
    its threads; on Redis, a view per client, as separate replicas have."""
    if url.startswith("memory"):
        return [make(MemoryState())] * count
    return [make(open_state(url)) for _ in range(count)]


def test_records_expire_after_idle_time(state_url):
    records = open_state(state_url).records("t", COUNTER, max_items=10, idle_s=0.4)
    records.put("a", Counter(1))
    records.put("b", Counter(2))
    time.sleep(0.2)  # half their idle time
    assert records.get("a") is not None  # used: its idle clock restarts, "a" now lives until 0.6 s
    wait_until(lambda: not records.has("b"), 2, "the unused record expiring")  # at 0.4 s
    assert records.has("a") and records.get("b") is None and len(records) == 1
    wait_until(lambda: not records.has("a"), 2, "the used record expiring in its turn")
    assert len(records) == 0


def test_records_are_bounded_least_recently_used_first(state_url):
    records = open_state(state_url).records("t", COUNTER, max_items=3, idle_s=60)
    for i, key in enumerate("abc"):
        records.put(key, Counter(i))
        time.sleep(0.005)  # distinct last-use times
    assert records.get("a") is not None  # now the most recently used
    time.sleep(0.005)
    records.put("d", Counter(3))
    assert len(records) == 3
    assert [records.has(k) for k in "abcd"] == [True, False, True, True]


def test_hold_loads_changes_and_saves_under_one_lock(state_url):
    first, second = replicas(state_url, lambda s: s.records("t", COUNTER, max_items=10, idle_s=60))
    first.put("shared", Counter())

    def bump() -> None:
        for _ in range(25):
            with second.hold("shared", create=Counter) as counter:
                seen = counter.n
                time.sleep(0.001)  # widen the window a lost update would need
                counter.n = seen + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    counter = first.get("shared")
    assert counter is not None and counter.n == 100  # no update lost between "replicas"


def test_hold_creates_only_through_create(state_url):
    records = open_state(state_url).records("t", COUNTER, max_items=10, idle_s=60)

    def refuse() -> Counter:
        raise LookupError("absent")

    with pytest.raises(LookupError):
        with records.hold("new", create=refuse):
            pass
    assert not records.has("new")
    with records.hold("new", create=Counter) as counter:
        counter.n = 7
    saved = records.get("new")
    assert saved is not None and saved.n == 7


def test_redis_discards_changes_of_a_failed_hold(redis_url):
    records = open_state(redis_url).records("t", COUNTER, max_items=10, idle_s=60)
    records.put("k", Counter(1))
    with pytest.raises(RuntimeError):
        with records.hold("k", create=Counter) as counter:
            counter.n = 99
            raise RuntimeError("the answer failed")
    saved = records.get("k")
    assert saved is not None and saved.n == 1


def test_dedupe_is_set_if_absent_with_a_ttl(state_url):
    seen = open_state(state_url).dedupe("ev", ttl_s=0.5)
    assert seen.first_time("Ev1", "C1:1.0")
    assert not seen.first_time("Ev1", "C1:1.0")  # a retried delivery
    assert not seen.first_time("Ev2", "C1:1.0")  # the same message under another event id
    assert seen.first_time("Ev3", None)
    wait_until(lambda: seen.first_time("Ev1", "C1:1.0"), 2, "the event being forgotten after its TTL")


def test_dedupe_answers_one_of_many_at_the_same_moment(state_url):
    views = replicas(state_url, lambda s: s.dedupe("ev"), 8)
    start = threading.Barrier(len(views))
    results: list[bool] = []

    def deliver(view) -> None:
        start.wait()
        results.append(view.first_time("Ev-race", "C9:5.0"))

    threads = [threading.Thread(target=deliver, args=(v,)) for v in views]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False] * 7 + [True]


def test_redis_dedupe_keeps_an_event_at_least_ten_minutes(redis_url):
    assert DEDUPE_TTL_S >= 600
    open_state(redis_url).dedupe("slack-event").first_time("Ev-ttl")
    ttl_ms = redis.Redis.from_url(redis_url).pttl("qa:slack-event:Ev-ttl")
    assert 600_000 <= ttl_ms <= DEDUPE_TTL_S * 1000


def test_memory_leader_always_leads():
    leader = MemoryState().leader("x")
    assert leader.acquire(threading.Event()) and leader.holder() == leader.identity
    assert not leader.lost.is_set()


def test_redis_leader_is_exclusive_renewed_and_handed_over(redis_url):
    a, b = replicas(redis_url, lambda s: s.leader("x", ttl_s=1.0, heartbeat_s=0.2))
    assert a.acquire(threading.Event())
    stop = threading.Event()
    announced: list[str | None] = []
    threading.Timer(2.0, stop.set).start()  # twice the TTL: only a heartbeat keeps a leading
    assert not b.acquire(stop, announce=announced.append)
    assert announced == [a.identity] and a.holder() == a.identity and not a.lost.is_set()
    a.release()  # a clean stop hands over at once, not after the TTL
    started = time.monotonic()
    assert b.acquire(threading.Event())
    assert time.monotonic() - started < 0.5 and b.holder() == b.identity
    b.release()


def test_redis_leader_that_cannot_renew_reports_the_loss(redis_url):
    leader = open_state(redis_url).leader("x", ttl_s=1.0, heartbeat_s=0.2)
    assert leader.acquire(threading.Event())
    redis.Redis.from_url(redis_url).set("qa:leader:x", "someone-else")  # e.g. its lock ran out during a pause
    assert leader.lost.wait(2.0)
    leader.release()
    assert redis.Redis.from_url(redis_url).get("qa:leader:x") == b"someone-else"  # not ours to release


def test_conversations_continue_across_replicas(redis_url):
    a, b = replicas(redis_url, lambda state: ConversationService(10, 60, state))
    cid = a.start()
    question = "Which jets did Iran buy?"
    with b.hold(cid) as conversation:
        conversation.add(question, question, "Su-35 [1]", short_answer="Su-35", kind="thing", evidence=(("doc", 10, 50),))
    on_a = a.get(cid)
    assert on_a.contextualize("When was that?") == "When was that? Which jets did Iran buy?"
    assert on_a.given_answers() == {("doc", 10, 50, "su-35")}
    with pytest.raises(ConversationNotFound):
        with b.hold("never-started"):
            pass
    assert not a.has("never-started") and len(a) == 1


UNREACHABLE = f"redis://127.0.0.1:{free_port()}/0"


def test_unreachable_redis_is_one_clear_error():
    with pytest.raises(StateUnavailable, match="QA_STATE_URL=redis://127.0.0.1:.* start Redis") as caught:
        RedisState(UNREACHABLE).check()
    assert caught.value.kind is ErrorKind.UNAVAILABLE and "\n" not in str(caught.value)


def test_servers_refuse_to_start_without_their_state(index_dir):
    for command in ("serve", "slack"):
        env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": ""}
        result = run_qa(command, "--index-dir", str(index_dir), "--state-url", UNREACHABLE, env=env)
        assert result.returncode == 1 and "start Redis" in result.stderr and "Traceback" not in result.stderr
    result = run_qa("serve", "--index-dir", str(index_dir), "--state-url", "http://nope")
    assert result.returncode == 2 and "--state-url=http://nope is not allowed" in result.stderr


def test_api_answers_503_when_the_state_goes_away(pipeline, encoder):
    settings = pipeline.settings.model_copy(update={"state_url": UNREACHABLE})
    with TestClient(create_app(QAPipeline(settings, encoder=encoder)), raise_server_exceptions=False) as client:
        started = client.post("/ask", json={"question": "When did Iran host Shoigu?", "start_conversation": True})
        assert started.status_code == 503 and "QA_STATE_URL" in started.json()["detail"]
        assert client.post("/ask", json={"question": "When did Iran host Shoigu?"}).status_code == 200  # one-shot needs no state
