"""The one bounded memory (bot/cache.py): LRU order, size bound, time to live, thread safety."""
import threading

import pytest

from bot.cache import LRU


def test_lru_evicts_least_recently_used():
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_ttl_expires_entries_by_write_time():
    now = [0.0]
    cache = LRU(10, ttl_seconds=5, clock=lambda: now[0])
    cache.put("k", "v")
    now[0] = 4.0
    assert cache.get("k") == "v"
    now[0] = 5.5
    assert cache.get("k") is None and len(cache) == 0


def test_get_or_compute_computes_once():
    cache = LRU(4)
    calls = []
    assert cache.get_or_compute(1, lambda: calls.append(1) or "x") == "x"
    assert cache.get_or_compute(1, lambda: calls.append(1) or "y") == "x"
    assert calls == [1]


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        LRU(0)


def test_concurrent_writers_keep_the_bound():
    cache = LRU(50)
    threads = [threading.Thread(target=lambda i=i: [cache.put((i, j), j) for j in range(500)]) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50
