"""Shared state: what the processes of one deployment must agree on, kept in memory or in Redis.

`QA_STATE_URL=memory://` (the default) keeps it in this process, which is all one `qa serve`,
`qa slack` or `qa chat` needs. `redis://host:port/db` keeps it in Redis so that replicas act as
one: a conversation started on one continues on another, a Slack event delivered to two is
answered once, and exactly one `qa slack` holds the Socket Mode connection. Three kinds of state,
one interface (`State`) and two implementations:

- `records`: values by id (conversations), bounded in number (least recently used dropped first)
  and idle age, each loaded, changed and saved back under a lock that spans every process that
  shares the store (`hold`);
- `dedupe`: set-if-absent with a TTL, so a delivery is handled once;
- `leader`: a lock with a short TTL that a heartbeat thread renews; a holder that cannot renew
  sets `lost` and must stop, and a standby takes over once the TTL runs out.

Redis failures surface as `StateUnavailable` (an `Unavailable`: exit 1, HTTP 503) naming the URL.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from cachetools import TTLCache

from qa.errors import Unavailable

log = logging.getLogger("qa.state")

DEDUPE_TTL_S = 3600.0  # Slack retries after about 1 and 5 minutes; an hour covers both with room
LEADER_TTL_S = 5.0  # a dead leader's lock runs out this long after its last heartbeat
HEARTBEAT_S = 1.0  # how often the leader renews, and how often a standby tries to take over
RECORD_LOCK_TIMEOUT_S = 30.0  # a record lock held longer than this (a dead process) is released by Redis
RECORD_LOCK_WAIT_S = 30.0  # how long a request waits for a record another request is changing
PREFIX = "qa:"


class StateUnavailable(Unavailable):
    """The shared state store (Redis) cannot be reached or refused a command."""


class Lockable(Protocol):
    lock: threading.Lock


T = TypeVar("T", bound=Lockable)


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a record becomes text for Redis and back (the memory store keeps the live object)."""

    dump: Callable[[T], str]
    load: Callable[[str], T]


class Records(ABC, Generic[T]):
    """Values by id, at most `max_items`, each forgotten `idle_s` after its last use."""

    @abstractmethod
    def put(self, key: str, value: T) -> None:
        """Store `value` under `key` (new or replaced), counted as used now."""

    @abstractmethod
    def has(self, key: str) -> bool:
        """Whether `key` holds a live value (not counted as use)."""

    @abstractmethod
    def get(self, key: str) -> T | None:
        """The value (a live object in memory, a copy from Redis), counted as used; None if absent."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def hold(self, key: str, create: Callable[[], T]) -> AbstractContextManager[T]:
        """Lock `key` across every process sharing the store, load its value (or call `create` when
        absent, which may raise instead), yield it to be changed, and save it back when the block succeeds."""


class Dedupe(ABC):
    @abstractmethod
    def first_time(self, *keys: str | None) -> bool:
        """True for exactly one caller among all that present any of these keys within the TTL."""


class Leader(ABC):
    """A lock that one process holds while alive; `lost` is set when it can no longer be sure it does."""

    identity: str
    lost: threading.Event

    @abstractmethod
    def acquire(self, stop: threading.Event, announce: Callable[[str | None], None] | None = None) -> bool:
        """Block until this process leads (True) or `stop` is set (False); renewing starts on success.

        While standing by, `announce` is called with the current holder each time it changes."""

    @abstractmethod
    def holder(self) -> str | None:
        """Who leads now, if anyone."""

    @abstractmethod
    def release(self) -> None:
        """Stop renewing and give the lock up (if still ours), so a standby takes over at once."""


class State(ABC):
    url: str

    @abstractmethod
    def records(self, namespace: str, codec: Codec[T], max_items: int, idle_s: float) -> Records[T]: ...

    @abstractmethod
    def dedupe(self, namespace: str, ttl_s: float = DEDUPE_TTL_S, max_items: int = 10_000) -> Dedupe: ...

    @abstractmethod
    def leader(self, name: str, ttl_s: float = LEADER_TTL_S, heartbeat_s: float = HEARTBEAT_S) -> Leader: ...

    @abstractmethod
    def check(self) -> None:
        """Raise StateUnavailable unless the store answers (servers call it before serving)."""


def open_state(url: str) -> State:
    """The store a validated `QA_STATE_URL` names."""
    if url.startswith("memory:"):
        return MemoryState()
    from qa.redis_state import RedisState

    return RedisState(url)


# ---- memory:// — this process only ------------------------------------------------------------


class MemoryRecords(Records[T]):
    """A cachetools TTLCache (LRU past its size) of live objects, each guarded by its own lock."""

    def __init__(self, max_items: int, idle_s: float) -> None:
        self._items: TTLCache[str, T] = TTLCache(maxsize=max_items, ttl=idle_s)
        self._guard = threading.Lock()  # cachetools caches are not thread-safe

    def put(self, key: str, value: T) -> None:
        with self._guard:
            self._items[key] = value

    def has(self, key: str) -> bool:
        with self._guard:
            return key in self._items

    def get(self, key: str) -> T | None:
        with self._guard:
            value = self._items.get(key)
            if value is not None:
                self._items[key] = value  # re-inserting restarts its idle clock
            return value

    def __len__(self) -> int:
        with self._guard:
            self._items.expire()
            return len(self._items)

    @contextmanager
    def hold(self, key: str, create: Callable[[], T]) -> Iterator[T]:
        with self._guard:
            value = self._items.get(key)
            if value is None:
                value = create()
            self._items[key] = value
        with value.lock:  # changed in place: nothing to save back
            yield value


class MemoryDedupe(Dedupe):
    def __init__(self, ttl_s: float, max_items: int) -> None:
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=max_items, ttl=ttl_s)
        self._lock = threading.Lock()

    def first_time(self, *keys: str | None) -> bool:
        live = [k for k in keys if k]
        with self._lock:
            if any(k in self._seen for k in live):
                return False
            for k in live:
                self._seen[k] = True
            return True


class SoleLeader(Leader):
    """memory:// has one process and no one to coordinate with: it always leads, and never loses."""

    def __init__(self) -> None:
        self.identity = process_identity()
        self.lost = threading.Event()

    def acquire(self, stop: threading.Event, announce: Callable[[str | None], None] | None = None) -> bool:
        return not stop.is_set()

    def holder(self) -> str | None:
        return self.identity

    def release(self) -> None:
        pass


class MemoryState(State):
    url = "memory://"

    def records(self, namespace: str, codec: Codec[T], max_items: int, idle_s: float) -> Records[T]:
        return MemoryRecords(max_items, idle_s)

    def dedupe(self, namespace: str, ttl_s: float = DEDUPE_TTL_S, max_items: int = 10_000) -> Dedupe:
        return MemoryDedupe(ttl_s, max_items)

    def leader(self, name: str, ttl_s: float = LEADER_TTL_S, heartbeat_s: float = HEARTBEAT_S) -> Leader:
        return SoleLeader()

    def check(self) -> None:
        pass


def process_identity() -> str:
    """host:pid:random, so logs say which process leads and a restarted pid is not mistaken for the old one."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
