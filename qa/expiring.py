"""A dict bounded in size and in age, for state a long-running server keeps per conversation or event."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

V = TypeVar("V")


class ExpiringMap(Generic[V]):
    """Entries older than `ttl_s` since last written are dropped, and the oldest go first past `max_items`."""

    def __init__(self, max_items: int, ttl_s: float) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            self._evict(time.monotonic())
            return key in self._items

    def touch(self, key: str, create: Callable[[], V]) -> V:
        """The live value for `key` (made by `create` if absent), now counted as fresh."""
        now = time.monotonic()
        with self._lock:
            self._evict(now)
            _, value = self._items.pop(key, None) or (now, create())
            self._set(key, now, value)
            return value

    def add_if_all_absent(self, keys: Iterable[str], value: V) -> bool:
        """Store `value` under every key, unless any of them is already live; True if stored."""
        now = time.monotonic()
        keys = list(keys)
        with self._lock:
            self._evict(now)
            if any(key in self._items for key in keys):
                return False
            for key in keys:
                self._set(key, now, value)
            return True

    def _set(self, key: str, now: float, value: V) -> None:
        self._items[key] = (now, value)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def _evict(self, now: float) -> None:
        while self._items:
            key, (written, _) = next(iter(self._items.items()))
            if now - written <= self.ttl_s:
                break
            del self._items[key]
