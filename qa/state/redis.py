"""The `redis://` implementation of `qa.state.State`, with redis-py. Kept apart so memory:// never imports redis.

Keys, all under `qa:`:
- `qa:{namespace}:rec:{id}` a record as JSON, expiring `idle_s` after its last use;
  `qa:{namespace}:lru` a sorted set of ids by last use, trimmed on every write to `max_items`
  (the least recently used go, with their records); `qa:{namespace}:lock:{id}` the redis-py
  `Lock` that serialises changes to one record across processes;
- `qa:{namespace}:{key}` dedupe markers, set only if none of a delivery's keys exists, with a TTL;
- `qa:leader:{name}` the leader lock: its value is the holder's identity, its TTL a few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.retry import Retry

from qa.config import without_password
from qa.state.base import (
    DEDUPE_TTL_S,
    HEARTBEAT_S,
    LEADER_TTL_S,
    PREFIX,
    RECORD_LOCK_TIMEOUT_S,
    RECORD_LOCK_WAIT_S,
    Codec,
    Dedupe,
    Leader,
    Records,
    State,
    StateUnavailable,
    T,
    process_identity,
)

log = logging.getLogger("qa.state")

# Store (or only touch, when the value is empty) one record, mark it used now, then forget ids idle
# for too long and the least recently used beyond the bound, records included. One script: atomic.
SAVE = """
local now, idle, bound = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[2], ARGV[5], 'PX', idle)
elseif redis.call('PEXPIRE', KEYS[2], idle) == 0 then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - idle)
local excess = redis.call('ZCARD', KEYS[1]) - bound
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) do
    redis.call('DEL', ARGV[6] .. id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
return 1
"""

# Set-if-absent over all of a delivery's keys at once (event id and message key), with a TTL.
FIRST_TIME = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, '1', 'NX', 'PX', ARGV[1])
end
return 1
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisState(State):
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = self._connect(socket_timeout=5.0)

    def _connect(self, socket_timeout: float) -> redis.Redis:
        # One immediate retry (a pooled connection gone stale after a Redis restart), then a clear error.
        return redis.Redis.from_url(
            self.url,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=min(socket_timeout, 2.0),
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
        )

    def records(self, namespace: str, codec: Codec[T], max_items: int, idle_s: float) -> Records[T]:
        return RedisRecords(self, f"{PREFIX}{namespace}:", codec, max_items, idle_s)

    def dedupe(self, namespace: str, ttl_s: float = DEDUPE_TTL_S, max_items: int = 10_000) -> Dedupe:
        return RedisDedupe(self, f"{PREFIX}{namespace}:", ttl_s)

    def leader(self, name: str, ttl_s: float = LEADER_TTL_S, heartbeat_s: float = HEARTBEAT_S) -> Leader:
        # Its own client with a short timeout: a hung call must not outlast the lock's TTL.
        return RedisLeader(self, self._connect(socket_timeout=heartbeat_s), f"{PREFIX}leader:{name}", ttl_s, heartbeat_s)

    def check(self) -> None:
        with self.errors():
            self.client.ping()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Redis failures as one StateUnavailable line naming the URL and the fix."""
        try:
            yield
        except LockError:
            raise
        except RedisError as exc:
            raise StateUnavailable(
                f"the shared state at QA_STATE_URL={without_password(self.url)} cannot be used ({exc}); "
                "start Redis there or point QA_STATE_URL (--state-url) at a running one"
            ) from None


class RedisRecords(Records[T]):
    def __init__(self, state: RedisState, prefix: str, codec: Codec[T], max_items: int, idle_s: float) -> None:
        self.state, self.client, self.prefix, self.codec = state, state.client, prefix, codec
        self.max_items, self.idle_ms = max_items, max(1, int(idle_s * 1000))
        self._save = self.client.register_script(SAVE)

    def _key(self, key: str) -> str:
        return f"{self.prefix}rec:{key}"

    def _write(self, key: str, text: str) -> bool:
        keys = [f"{self.prefix}lru", self._key(key)]
        args: list[str | int] = [key, _now_ms(), self.idle_ms, self.max_items, text, f"{self.prefix}rec:"]
        return bool(self._save(keys=keys, args=args))

    def put(self, key: str, value: T) -> None:
        with self.state.errors():
            self._write(key, self.codec.dump(value))

    def has(self, key: str) -> bool:
        with self.state.errors():
            return bool(self.client.exists(self._key(key)))

    def get(self, key: str) -> T | None:
        with self.state.errors():
            text = self.client.get(self._key(key))
            if text is None or not self._write(key, ""):
                return None
            return self.codec.load(str(text))

    def __len__(self) -> int:
        with self.state.errors():
            return int(self.client.zcount(f"{self.prefix}lru", _now_ms() - self.idle_ms, "+inf"))

    @contextmanager
    def hold(self, key: str, create: Callable[[], T]) -> Iterator[T]:
        lock = self.client.lock(
            f"{self.prefix}lock:{key}",
            timeout=RECORD_LOCK_TIMEOUT_S,  # a process killed while holding it frees it after this
            sleep=0.01,
            blocking_timeout=RECORD_LOCK_WAIT_S,
            thread_local=False,
        )
        with self.state.errors():
            acquired = lock.acquire()
        if not acquired:
            raise StateUnavailable(
                f"{key!r} stayed busy for {RECORD_LOCK_WAIT_S:.0f} s (another request is changing it); try again"
            )
        try:
            with self.state.errors():
                text = self.client.get(self._key(key))
            value = create() if text is None else self.codec.load(str(text))
            yield value
            with self.state.errors():
                self._write(key, self.codec.dump(value))
        finally:
            try:
                lock.release()
            except LockError:
                log.warning(
                    "the lock on %s ran out while held (over %.0f s); it was not ours to release", key, RECORD_LOCK_TIMEOUT_S
                )
            except RedisError as exc:
                log.warning("could not release the lock on %s (%s); it runs out by itself", key, exc)


class RedisDedupe(Dedupe):
    def __init__(self, state: RedisState, prefix: str, ttl_s: float) -> None:
        self.state, self.prefix, self.ttl_ms = state, prefix, max(1, int(ttl_s * 1000))
        self._first_time = state.client.register_script(FIRST_TIME)

    def first_time(self, *keys: str | None) -> bool:
        live = [f"{self.prefix}{k}" for k in keys if k]
        if not live:
            return True
        with self.state.errors():
            return bool(self._first_time(keys=live, args=[self.ttl_ms]))


class RedisLeader(Leader):
    """redis-py `Lock` whose token is this process's identity; a heartbeat thread renews its TTL."""

    def __init__(self, state: RedisState, client: redis.Redis, key: str, ttl_s: float, heartbeat_s: float) -> None:
        self.state, self.client, self.key = state, client, key
        self.ttl_s, self.heartbeat_s = ttl_s, heartbeat_s
        self.identity = process_identity()
        self.lost = threading.Event()
        self._lock = client.lock(key, timeout=ttl_s, thread_local=False)
        self._stop_beating = threading.Event()
        self._beat: threading.Thread | None = None

    def holder(self) -> str | None:
        with self.state.errors():
            value = self.client.get(self.key)
        return None if value is None else str(value)

    def acquire(self, stop: threading.Event, announce: Callable[[str | None], None] | None = None) -> bool:
        seen: str | None = ""
        while not stop.is_set():
            try:
                if self._lock.acquire(blocking=False, token=self.identity):
                    self.lost.clear()
                    self._stop_beating.clear()
                    self._beat = threading.Thread(target=self._heartbeat, name="qa-leader-heartbeat", daemon=True)
                    self._beat.start()
                    return True
                holder = self.holder()
            except (RedisError, StateUnavailable) as exc:
                holder = f"unknown (Redis unreachable: {exc})"
            if holder != seen and announce is not None:
                announce(holder)
            seen = holder
            stop.wait(self.heartbeat_s)
        return False

    def _heartbeat(self) -> None:
        renewed = time.monotonic()
        while not self._stop_beating.wait(self.heartbeat_s):
            try:
                self._lock.reacquire()  # TTL back to ttl_s, only if the lock still holds our token
                renewed = time.monotonic()
            except LockNotOwnedError:
                self._lose("another process holds the lock now, or it ran out")
                return
            except RedisError as exc:
                # Stop leading before the TTL can run out under us, so two leaders never overlap.
                if time.monotonic() - renewed >= self.ttl_s - self.heartbeat_s:
                    self._lose(f"could not renew it for {time.monotonic() - renewed:.1f} s ({exc})")
                    return

    def _lose(self, why: str) -> None:
        log.error("%s lost the leader lock %s: %s", self.identity, self.key, why)
        self.lost.set()

    def release(self) -> None:
        self._stop_beating.set()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join(timeout=self.heartbeat_s * 2)
        try:
            self._lock.release()
        except (LockError, RedisError):
            pass  # not ours any more, or Redis is gone: either way it runs out by itself
