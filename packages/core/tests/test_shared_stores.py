"""Shared marks and single-use ids on every store (issue #14): the project database
(SQLite, PostgreSQL) and a real Redis server; what one store instance writes, another
("another node") reads, and of concurrent first uses exactly one wins."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from mastra.core.ee.shared import MemoryMarkStore, RedisMarkStore, SQLMarkStore


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def stores(request: pytest.FixtureRequest, sqlite_url: str) -> tuple[Any, Any]:
    """Two instances of one store, as two nodes would hold them."""
    if request.param == "memory":
        one = MemoryMarkStore()
        return one, one  # one process: nothing to share with
    if request.param == "sqlite":
        return SQLMarkStore(sqlite_url), SQLMarkStore(sqlite_url)
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        return SQLMarkStore(url), SQLMarkStore(url)
    url = request.getfixturevalue("redis_url")
    return RedisMarkStore(url), RedisMarkStore(url)


async def test_a_mark_written_on_one_node_is_loaded_on_another(stores: tuple[Any, Any]) -> None:
    one, other = stores
    await one.put("workos-sessions", "sid_1", "1", 60)
    await one.put("workos-users", "user_1", "1700000000", 60)
    await one.put("workos-users", "user_1", "1700000100", 60)  # a later cutoff replaces it
    loaded = await other.load("workos-users")
    assert set(loaded) == {"user_1"} and loaded["user_1"][0] == "1700000100"
    assert time.time() + 50 < loaded["user_1"][1] <= time.time() + 60
    assert set(await other.load("workos-sessions")) == {"sid_1"}
    assert await other.load("nothing-here") == {}


async def test_expired_marks_are_not_loaded(stores: tuple[Any, Any]) -> None:
    one, other = stores
    await one.put("ns", "short", "1", 0.2)
    await one.put("ns", "long", "1", 60)
    await asyncio.sleep(0.3)
    await one.put("ns", "later", "1", 60)  # writes sweep expired entries
    assert set(await other.load("ns")) == {"long", "later"}


async def test_first_time_has_one_winner_across_nodes(stores: tuple[Any, Any]) -> None:
    one, other = stores
    results = await asyncio.gather(*(store.first_time("webhooks", "evt_1", 60) for store in [one, other] * 5))
    assert sorted(results) == [False] * 9 + [True]
    assert await other.first_time("webhooks", "evt_2", 60) is True
    assert await one.first_time("other-namespace", "evt_1", 60) is True


async def test_first_time_again_after_expiry(stores: tuple[Any, Any]) -> None:
    one, other = stores
    assert await one.first_time("webhooks", "evt_x", 0.2) is True
    assert await other.first_time("webhooks", "evt_x", 0.2) is False
    await asyncio.sleep(0.3)
    assert await other.first_time("webhooks", "evt_x", 60) is True


async def test_a_mark_never_goes_down(stores: tuple[Any, Any]) -> None:
    """Two nodes revoking one user at about the same time: whichever commits last, the
    later cutoff and the longer life stay (an older write arriving late changes nothing)."""
    one, other = stores
    await one.put("workos-users", "user_9", "1700000100", 60)
    await other.put("workos-users", "user_9", "1700000000", 5)  # older cutoff, shorter life
    value, expires_at = (await one.load("workos-users"))["user_9"]
    assert value == "1700000100" and expires_at > time.time() + 50


async def test_an_expired_mark_is_replaced_by_any_new_one(stores: tuple[Any, Any]) -> None:
    one, other = stores
    await one.put("ns", "k", "9", 0.2)
    await asyncio.sleep(0.3)
    await other.put("ns", "k", "1", 60)
    assert (await one.load("ns"))["k"][0] == "1"


async def test_a_claim_kept_after_the_work_outlives_its_short_ttl(stores: tuple[Any, Any]) -> None:
    """A webhook id is claimed briefly, then kept once processed: a node that died
    mid-way leaves only the short claim, so a redelivery runs again later."""
    one, other = stores
    assert await one.first_time("webhooks", "done", 0.2) is True
    assert await one.first_time("webhooks", "died", 0.2) is True
    await one.keep("webhooks", "done", 60)
    await asyncio.sleep(0.3)
    assert await other.first_time("webhooks", "done", 60) is False
    assert await other.first_time("webhooks", "died", 60) is True
