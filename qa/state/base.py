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
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

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


def process_identity() -> str:
    """host:pid:random, so logs say which process leads and a restarted pid is not mistaken for the old one."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
