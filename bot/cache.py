"""The one bounded memory: least-recently-used, with an optional time to live, thread-safe."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING = object()


class LRU(Generic[K, V]):
    """At most `max_items` entries; with `ttl_seconds`, an entry not written for that long is gone.

    `get` refreshes recency, not age: an entry expires `ttl_seconds` after it was last `put`,
    however often it is read.
    """

    def __init__(self, max_items: int, ttl_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if max_items < 1:
            raise ValueError(f"an LRU needs room for at least one item (got max_items={max_items})")
        self.max_items = max_items
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            entry = self._items.get(key, _MISSING)
            if entry is _MISSING or self._expired(entry[0]):
                self._items.pop(key, None)
                return default
            self._items.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (self.clock(), value)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The cached value, or `compute()` stored and returned (computed outside the lock)."""
        value = self.get(key, _MISSING)  # type: ignore[arg-type]
        if value is _MISSING:
            value = compute()
            self.put(key, value)
        return value  # type: ignore[return-value]

    def pop(self, key: K) -> V | None:
        with self._lock:
            entry = self._items.pop(key, None)
            return None if entry is None else entry[1]

    def __contains__(self, key: K) -> bool:
        return self.get(key, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._items)

    def _expired(self, written: float) -> bool:
        return self.ttl_seconds is not None and self.clock() - written > self.ttl_seconds

    def _drop_expired(self) -> None:
        # Entries are in write order only when nobody read them since; scan all (bounded by max_items).
        for key in [k for k, (t, _) in self._items.items() if self._expired(t)]:
            del self._items[key]
