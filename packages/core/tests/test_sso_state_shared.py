"""SSO states are single use across processes and nodes (S9), and never stored in clear (S2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from mastra.core.ee.crypto import sha256_hex
from mastra.core.ee.redis import close_redis_clients, get_redis
from mastra.core.server._sso_state import RedisStateStore, SQLStateStore, StateStore

STATE = "state-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4"


@pytest.fixture(autouse=True)
async def _close_redis() -> AsyncIterator[None]:
    yield
    await close_redis_clients()


@pytest.fixture(params=["sql", pytest.param("redis", marks=pytest.mark.redis)])
def two_stores(request: pytest.FixtureRequest, sqlite_url: str) -> tuple[StateStore, StateStore]:
    """Two instances over one backing store: two processes or nodes."""
    if request.param == "sql":
        return SQLStateStore(sqlite_url), SQLStateStore(sqlite_url)
    url = str(request.getfixturevalue("redis_url"))
    return RedisStateStore(url), RedisStateStore(url)


async def test_a_state_added_on_one_node_is_consumed_once_on_another(
    two_stores: tuple[StateStore, StateStore],
) -> None:
    first, second = two_stores
    await first.add(STATE)
    assert await second.consume(STATE) is True
    assert await second.consume(STATE) is False
    assert await first.consume(STATE) is False
    assert await first.consume("never-added") is False


async def test_racing_callbacks_consume_a_state_once(two_stores: tuple[StateStore, StateStore]) -> None:
    first, second = two_stores
    await first.add(STATE)
    results = await asyncio.gather(*((first, second)[i % 2].consume(STATE) for i in range(20)))
    assert results.count(True) == 1


async def test_an_expired_state_is_refused(two_stores: tuple[StateStore, StateStore]) -> None:
    first, second = two_stores
    await first.add(STATE, ttl=1)
    await asyncio.sleep(1.2)
    assert await second.consume(STATE) is False


@pytest.mark.redis
async def test_redis_holds_only_the_hash_of_a_state(redis_url: str) -> None:
    await RedisStateStore(redis_url).add(STATE)
    client = get_redis(redis_url)
    keys = await client.keys("*")
    assert keys == [f"mastra:sso:{sha256_hex(STATE)}".encode()]
    assert await client.get(keys[0]) == b"1"
    assert 590 <= await client.ttl(keys[0]) <= 600
    assert STATE.encode() not in keys[0]
