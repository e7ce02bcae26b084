"""Rate limits shared by many processes and nodes: the three stores keep one contract,
Redis is atomic and fails closed, two nodes share one budget, ``auto`` picks the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mastra.core.ee.errors import ConfigurationError, RateLimited, RateLimitUnavailable
from mastra.core.ee.redis import close_redis_clients, get_redis
from mastra.core.server._ratelimit import (
    FailureLimiter,
    Limit,
    MemoryStore,
    RedisStore,
    SQLStore,
    Store,
    resolve_storage,
)
from mastra.core.testing.reference import reference_app, reference_settings
from mastra.core.testing.servers import free_port

ORIGIN = {"origin": "http://localhost"}
SQLITE = "sqlite+aiosqlite:///x.db"
POSTGRES = "postgresql+asyncpg://u@h/db"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
async def _close_redis() -> AsyncIterator[None]:
    yield
    await close_redis_clients()


@pytest.fixture(params=["memory", "sql", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, sqlite_url: str) -> Store:
    """Each store behind the one contract (SQL on SQLite here; PostgreSQL below)."""
    if request.param == "memory":
        return MemoryStore()
    if request.param == "sql":
        return SQLStore(sqlite_url)
    return RedisStore(str(request.getfixturevalue("redis_url")))


def dead_redis_url() -> str:
    """A port with nothing listening: the outage, without killing the session's server."""
    return f"redis://127.0.0.1:{free_port()}/0"


# -- one contract, three stores ---------------------------------------------------------


async def test_store_takes_up_to_the_limit_then_says_how_long_to_wait(store: Store) -> None:
    limit = Limit(3, 60)
    entries = [await store.acquire("k", limit) for _ in range(3)]
    assert all(isinstance(e, str) for e in entries) and len(set(entries)) == 3
    wait = await store.acquire("k", limit)
    assert isinstance(wait, int) and 59 <= wait <= 60
    assert isinstance(await store.acquire("other", limit), str)  # keys are apart


async def test_store_release_gives_one_entry_back_and_clear_empties(store: Store) -> None:
    limit = Limit(2, 60)
    first, second = [await store.acquire("k", limit) for _ in range(2)]
    assert isinstance(first, str) and isinstance(second, str)
    await store.release("k", first)
    assert isinstance(await store.acquire("k", limit), str)
    assert isinstance(await store.acquire("k", limit), int)
    await store.clear("k")
    after_clear = [await store.acquire("k", limit) for _ in range(2)]
    assert all(isinstance(entry, str) for entry in after_clear)


async def test_store_window_moves(store: Store) -> None:
    limit = Limit(1, 1)
    assert isinstance(await store.acquire("k", limit), str)
    assert await store.acquire("k", limit) == 1
    await asyncio.sleep(1.1)
    assert isinstance(await store.acquire("k", limit), str)


async def test_store_concurrent_acquires_take_exactly_the_limit(store: Store) -> None:
    limit = Limit(10, 60)
    results = await asyncio.gather(*(store.acquire("k", limit) for _ in range(50)))
    assert sum(isinstance(r, str) for r in results) == 10
    assert all(1 <= r <= 60 for r in results if isinstance(r, int))


# -- Redis specifics --------------------------------------------------------------------


@pytest.mark.redis
async def test_a_burst_above_the_redis_pool_size_waits_instead_of_failing(redis_url: str) -> None:
    """300 concurrent attempts on one process (the client pool holds 100 connections):
    they queue for a connection; before, the 101st failed ("Too many connections") → 503."""
    store = RedisStore(redis_url)
    results = await asyncio.gather(*(store.acquire("k", Limit(10, 60)) for _ in range(300)))
    assert sum(isinstance(r, str) for r in results) == 10


@pytest.mark.redis
async def test_redis_keys_are_prefixed_and_expire_with_their_window(redis_url: str) -> None:
    store = RedisStore(redis_url)
    assert isinstance(await store.acquire("auth-fail:ip:203.0.113.9", Limit(5, 1)), str)
    client = get_redis(redis_url)
    assert await client.keys("*") == [b"mastra:rl:auth-fail:ip:203.0.113.9"]
    assert 0 < await client.pttl("mastra:rl:auth-fail:ip:203.0.113.9") <= 1000
    await asyncio.sleep(1.2)
    assert await client.keys("*") == []  # idle keys vanish by themselves


@pytest.mark.redis
async def test_redis_windows_follow_the_server_clock(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose clock runs an hour ahead shares the same window and never asks for
    more than the window (the entries are stamped with Redis' TIME)."""
    limit = Limit(2, 60)
    assert isinstance(await RedisStore(redis_url).acquire("k", limit), str)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    skewed = RedisStore(redis_url)
    assert isinstance(await skewed.acquire("k", limit), str)
    wait = await skewed.acquire("k", limit)
    assert isinstance(wait, int) and 59 <= wait <= 60


@pytest.mark.redis
async def test_unreachable_redis_raises_rate_limit_unavailable() -> None:
    store = RedisStore(dead_redis_url())
    started = time.monotonic()
    with pytest.raises(RateLimitUnavailable):
        await store.acquire("k", Limit(1, 60))
    with pytest.raises(RateLimitUnavailable):
        await store.release("k", "entry")
    with pytest.raises(RateLimitUnavailable):
        await store.clear("k")
    assert time.monotonic() - started < 10  # refused fast, not hung


@pytest.mark.redis
async def test_sign_in_answers_503_when_redis_is_unreachable(sqlite_url: str) -> None:
    settings = reference_settings(
        sqlite_url, redis_url=dead_redis_url(), auth={"rate_limit": {"storage": "redis"}}
    )
    app = reference_app(settings)
    verified: list[str] = []
    users = app.state.mastra_ee.auth.user
    original = users.sign_in

    async def sign_in(email: str, password: str, request: Any) -> Any:
        verified.append(email)
        return await original(email, password, request)

    users.sign_in = sign_in
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        r = await c.post(
            "/api/auth/credentials/sign-in",
            json={"email": "a@example.com", "password": "whatever-it-is"},
            headers=ORIGIN,
        )
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "Service unavailable"
    assert verified == []  # closed, not passed through to the provider


# -- three nodes, one budget ----------------------------------------------------------------


def three_nodes(storage: str, database_url: str, redis_url: str | None) -> list[FailureLimiter]:
    return [
        FailureLimiter(
            ip="10/60",
            account="100/300",
            sign_up="5/3600",
            storage=storage,
            database_url=database_url,
            redis_url=redis_url,
            workers=2,
        )
        for _ in range(3)
    ]


async def assert_nodes_share_the_ip_budget(nodes: list[FailureLimiter]) -> None:
    """The issue's case: 10 failures spread over three nodes → the 11th is 429 everywhere."""
    for i in range(10):
        node = nodes[i % len(nodes)]
        attempt = await node.begin("203.0.113.9", f"user{i}@example.com")
        await node.failed(attempt)
    for node in nodes:
        with pytest.raises(RateLimited) as refused:
            await node.begin("203.0.113.9", "fresh@example.com")
        assert 1 <= refused.value.retry_after <= 60


@pytest.mark.redis
async def test_nodes_share_failures_through_redis(sqlite_url: str, redis_url: str) -> None:
    nodes = three_nodes("auto", sqlite_url, redis_url)
    assert {node.storage for node in nodes} == {"redis"}
    await assert_nodes_share_the_ip_budget(nodes)


@pytest.mark.postgres
async def test_nodes_share_failures_through_postgresql(postgres_url: str) -> None:
    await assert_nodes_share_the_ip_budget(three_nodes("auto", postgres_url, None))


# -- which store ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("storage", "database_url", "redis_url", "workers", "expected"),
    [
        ("auto", SQLITE, None, 1, "memory"),
        ("auto", SQLITE, None, 4, "sql"),
        ("auto", POSTGRES, None, 1, "sql"),
        ("auto", SQLITE, REDIS, 1, "redis"),
        ("auto", POSTGRES, REDIS, 4, "redis"),
        ("memory", SQLITE, REDIS, 1, "memory"),
        ("sql", POSTGRES, REDIS, 4, "sql"),
        (" Redis ", SQLITE, REDIS, 1, "redis"),
    ],
)
def test_storage_resolution(
    storage: str, database_url: str, redis_url: str | None, workers: int, expected: str
) -> None:
    assert resolve_storage(storage, database_url, redis_url=redis_url, workers=workers) == expected


def test_memory_storage_with_several_workers_is_refused(sqlite_url: str) -> None:
    message = (
        "MASTRA_AUTH__RATE_LIMIT__STORAGE=memory keeps counters per process; "
        + "with several workers use sql or redis"
    )
    with pytest.raises(ConfigurationError) as refused:
        resolve_storage("memory", SQLITE, workers=2)
    assert str(refused.value) == message
    settings = reference_settings(sqlite_url, workers=2, auth={"rate_limit": {"storage": "memory"}})
    with pytest.raises(ConfigurationError, match="STORAGE=memory keeps counters per process"):
        reference_app(settings)


def test_redis_storage_without_a_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="STORAGE=redis needs MASTRA_REDIS_URL"):
        resolve_storage("redis", POSTGRES)


@pytest.mark.redis
def test_the_app_uses_redis_for_limits_and_sso_states_when_a_url_is_set(
    sqlite_url: str, redis_url: str
) -> None:
    from mastra.core.server._sso_state import RedisStateStore, SQLStateStore

    # ``sso_state_store=None``: the default store (reference_app otherwise picks memory).
    ctx = reference_app(
        reference_settings(sqlite_url, redis_url=redis_url), sso_state_store=None
    ).state.mastra_ee
    assert isinstance(ctx.limiter.backend, RedisStore) and isinstance(ctx.sso_states, RedisStateStore)
    ctx = reference_app(reference_settings(sqlite_url, workers=2), sso_state_store=None).state.mastra_ee
    assert isinstance(ctx.limiter.backend, SQLStore) and isinstance(ctx.sso_states, SQLStateStore)
