"""`memory://` state: this process only, all one `qa serve`, `qa slack` or `qa chat` needs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cachetools import TTLCache

from qa.state.base import (
    DEDUPE_TTL_S,
    HEARTBEAT_S,
    LEADER_TTL_S,
    Codec,
    Dedupe,
    Leader,
    Records,
    State,
    T,
    process_identity,
)


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
