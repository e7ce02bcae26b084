"""The one bounded cache (``mastra.core.ee.cache``): TTL with an injected clock, LRU
bound, add-once, single-flight loads and invalidation while a load is in flight."""

from __future__ import annotations

import asyncio

import pytest
from mastra.core.ee.cache import SingleFlightCache, TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(ttl=10, max_size=10, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2, ttl=30)  # per-entry override
    clock.now += 9.9
    assert cache.get("a") == 1 and "a" in cache
    clock.now += 0.1  # exactly the TTL: expired
    assert cache.get("a") is None and "a" not in cache
    assert cache.get("a", "gone") == "gone"
    assert cache.get("b") == 2 and list(cache) == ["b"]
    clock.now += 20
    assert cache.get("b") is None and len(cache) == 0


def test_no_ttl_never_expires() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(ttl=None, max_size=2, clock=clock)
    cache.set("a", 1)
    clock.now += 10**9
    assert cache.get("a") == 1


def test_least_recently_used_goes_first() -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=None, max_size=3)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.set(key, value)
    assert cache.get("a") == 1  # a read makes "a" the most recent
    cache.set("d", 4)
    assert list(cache) == ["c", "a", "d"]  # least recent first; "b" was evicted
    cache.set("c", 30)  # a write refreshes too
    cache.set("e", 5)
    assert list(cache) == ["d", "c", "e"]


def test_expired_entries_are_dropped_on_write_not_kept_until_the_bound() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(ttl=5, max_size=1000, clock=clock)
    for i in range(100):
        cache.set(f"old{i}", i)
    clock.now += 6
    cache.set("new", 1)
    assert len(cache) == 1


def test_add_stores_only_the_first_live_value() -> None:
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(ttl=60, max_size=10, clock=clock)
    assert cache.add("event-1", "first") is True
    assert cache.add("event-1", "second") is False
    assert cache.get("event-1") == "first"
    clock.now += 60  # expired: the key may be added again
    assert cache.add("event-1", "third") is True
    assert cache.pop("event-1") == "third" and cache.pop("event-1") is None


def test_max_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TTLCache(ttl=1, max_size=0)


async def test_concurrent_gets_share_one_load() -> None:
    cache: SingleFlightCache[str] = SingleFlightCache(ttl=60)
    started = asyncio.Event()
    release = asyncio.Event()

    async def load() -> str:
        started.set()
        await release.wait()
        return "value"

    tasks = [asyncio.create_task(cache.get("k", load)) for _ in range(10)]
    await started.wait()
    release.set()
    assert await asyncio.gather(*tasks) == ["value"] * 10
    assert cache.loads == 1
    assert await cache.get("k", load) == "value" and cache.loads == 1  # now cached


async def test_failed_loads_are_shared_but_not_cached() -> None:
    cache: SingleFlightCache[str] = SingleFlightCache(ttl=60)
    gate = asyncio.Event()

    async def failing() -> str:
        await gate.wait()
        raise RuntimeError("IdP down")

    tasks = [asyncio.create_task(cache.get("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and cache.loads == 1

    async def ok() -> str:
        return "recovered"

    assert await cache.get("k", ok) == "recovered" and cache.loads == 2


async def test_single_flight_values_expire_with_the_clock() -> None:
    clock = Clock()
    cache: SingleFlightCache[int] = SingleFlightCache(ttl=30, clock=clock)
    counter = 0

    async def load() -> int:
        nonlocal counter
        counter += 1
        return counter

    assert await cache.get("k", load) == 1
    clock.now += 29
    assert await cache.get("k", load) == 1
    clock.now += 1
    assert await cache.get("k", load) == 2


@pytest.mark.parametrize("scope", ["key", "all"])
async def test_invalidate_during_a_load_keeps_its_stale_result_out(scope: str) -> None:
    cache: SingleFlightCache[str] = SingleFlightCache(ttl=60)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_stale_load() -> str:
        started.set()
        await release.wait()
        return "stale"

    pending = asyncio.create_task(cache.get("roles:u1", slow_stale_load))
    await started.wait()
    cache.invalidate("roles:u1" if scope == "key" else None)  # e.g. a webhook changed the roles
    release.set()
    assert await pending == "stale"  # the caller that was waiting still gets its answer
    assert len(cache) == 0  # but it is not remembered

    async def fresh() -> str:
        return "fresh"

    assert await cache.get("roles:u1", fresh) == "fresh"
    assert await cache.get("roles:u1", slow_stale_load) == "fresh"  # cached now


async def test_invalidate_one_key_leaves_the_others() -> None:
    cache: SingleFlightCache[str] = SingleFlightCache(ttl=60, max_size=2)

    async def value() -> str:
        return "v"

    await cache.get("a", value)
    await cache.get("b", value)
    cache.invalidate("a")
    assert len(cache) == 1
    await cache.get("b", value)
    assert cache.loads == 2
