"""The invalidation channel on real peers: PostgreSQL LISTEN/NOTIFY, Redis pub/sub and the
polled SQLite table (issue #14)."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from mastra.core.ee.bus import (
    MAX_PAYLOAD_BYTES,
    InvalidationBus,
    LocalBus,
    PostgresBus,
    RedisBus,
    SQLitePollBus,
    open_bus,
    publish_once,
)
from mastra.core.ee.bus._postgres import asyncpg_dsn
from mastra.core.ee.redis import close_redis_clients
from mastra.core.ee.settings import Settings
from mastra.core.testing.redis import start_redis

BusFactory = Callable[[], InvalidationBus]


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


class Backend:
    """Buses on one backend, closed after the test."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.buses: list[InvalidationBus] = []

    def bus(self) -> InvalidationBus:
        bus = open_bus(self.settings)
        self.buses.append(bus)
        return bus

    async def started(self) -> InvalidationBus:
        bus = self.bus()
        await bus.start()
        assert bus.connected
        return bus


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def backend(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        settings = Settings(database_url=sqlite_url, workers=2)
    elif request.param == "postgres":
        settings = Settings(database_url=request.getfixturevalue("postgres_url"))
    else:
        settings = Settings(database_url=sqlite_url, redis_url=request.getfixturevalue("redis_url"))
    backend = Backend(settings)
    yield backend
    for bus in backend.buses:
        await bus.close()
    await close_redis_clients()


def recorder(bus: InvalidationBus, topic: str = "auth-cache") -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    bus.subscribe(topic, received.append)
    return received


async def test_open_bus_picks_the_backend(sqlite_url: str) -> None:
    pg = "postgresql+asyncpg://u:p@127.0.0.1:5432/db"
    assert isinstance(open_bus(Settings(database_url=sqlite_url)), LocalBus)
    assert isinstance(open_bus(Settings(database_url=sqlite_url, workers=3)), SQLitePollBus)
    assert isinstance(open_bus(Settings(database_url=pg)), PostgresBus)
    assert isinstance(open_bus(Settings(database_url=pg, redis_url="redis://127.0.0.1:1/0")), RedisBus)
    assert isinstance(open_bus(Settings(database_url=sqlite_url, redis_url="redis://h:1/0")), RedisBus)


def test_asyncpg_dsn_keeps_the_password() -> None:
    dsn = asyncpg_dsn("postgresql+asyncpg://user:s%40cret@db.example:6543/app?ssl=require")
    assert dsn == "postgresql://user:s%40cret@db.example:6543/app?ssl=require"


async def test_local_bus_is_always_connected_and_tells_nobody() -> None:
    bus = LocalBus()
    received = recorder(bus)
    states: list[bool] = []
    bus.on_state(states.append)
    await bus.start()
    await bus.publish("auth-cache", {"user": "u1"})
    assert bus.connected and received == [] and states == []
    await bus.close()


async def test_message_reaches_the_other_node_and_not_the_publisher(backend: Backend) -> None:
    a, b = await backend.started(), await backend.started()
    assert a.node_id != b.node_id and len(a.node_id) == 12
    on_a, on_b, other_topic = recorder(a), recorder(b), recorder(b, "other")
    await a.publish("auth-cache", {"user": "u1", "reason": "sign-out"})
    await a.publish("nobody-listens", {"x": 1})  # unknown topic: ignored
    await a.publish("auth-cache")
    await eventually(lambda: len(on_b) == 2)
    assert on_b == [
        {"node": a.node_id, "topic": "auth-cache", "data": {"user": "u1", "reason": "sign-out"}},
        {"node": a.node_id, "topic": "auth-cache", "data": {}},
    ]
    await b.publish("auth-cache", {"from": "b"})
    await eventually(lambda: len(on_a) == 1)
    await asyncio.sleep(0.2)
    assert on_a == [{"node": b.node_id, "topic": "auth-cache", "data": {"from": "b"}}]
    assert len(on_b) == 2  # its own message never came back
    assert other_topic == []


async def test_a_failing_handler_neither_stops_the_others_nor_the_listener(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = await backend.started(), await backend.started()
    order: list[str] = []

    def broken(message: dict[str, Any]) -> None:
        order.append("broken")
        raise RuntimeError("handler bug")

    b.subscribe("auth-cache", broken)
    b.subscribe("auth-cache", lambda message: order.append(f"second:{message['data']['n']}"))
    with caplog.at_level(logging.ERROR, logger="mastra.ee.bus"):
        await a.publish("auth-cache", {"n": 1})
        await eventually(lambda: len(order) == 2)
        await a.publish("auth-cache", {"n": 2})
        await eventually(lambda: len(order) == 4)
    assert order == ["broken", "second:1", "broken", "second:2"]
    assert b.connected
    assert sum("handler bug" in (r.exc_text or "") for r in caplog.records) == 2


async def test_an_oversized_payload_is_refused(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    a, b = await backend.started(), await backend.started()
    received = recorder(b)
    with caplog.at_level(logging.ERROR, logger="mastra.ee.bus"):
        await a.publish("auth-cache", {"blob": "x" * MAX_PAYLOAD_BYTES})
    assert any("refused" in r.getMessage() for r in caplog.records)
    await a.publish("auth-cache", {"blob": "x" * (MAX_PAYLOAD_BYTES - 100)})  # just under: sent
    await eventually(lambda: len(received) == 1)
    assert len(received[0]["data"]["blob"]) == MAX_PAYLOAD_BYTES - 100


async def test_publish_once_reaches_a_started_bus(backend: Backend) -> None:
    b = await backend.started()
    received = recorder(b)
    await publish_once(backend.settings, "auth-cache", {"user": "u9"})
    await eventually(lambda: len(received) == 1)
    assert received[0]["data"] == {"user": "u9"} and received[0]["node"] != b.node_id


async def test_publish_once_never_raises_when_the_peer_is_down(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    with caplog.at_level(logging.ERROR, logger="mastra.ee.bus"):
        await publish_once(settings, "auth-cache", {"user": "u1"})
    assert any("not sent" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
async def test_postgres_malformed_notifications_are_dropped(postgres_url: str) -> None:
    backend = Backend(Settings(database_url=postgres_url))
    b = await backend.started()
    received = recorder(b)
    conn = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        bad = (
            "not json",
            "[1]",
            '{"node": "x"}',
            '{"node": "x", "topic": "auth-cache", "data": 3}',
            '{"node": "x", "topic": ["auth-cache"], "data": {}}',
        )
        for payload in bad:
            await conn.execute("SELECT pg_notify('mastra_ee', $1)", payload)
        good = json.dumps({"node": "x", "topic": "auth-cache", "data": {"ok": True}})
        await conn.execute("SELECT pg_notify('mastra_ee', $1)", good)
    finally:
        await conn.close()
    await eventually(lambda: len(received) == 1)
    assert received == [{"node": "x", "topic": "auth-cache", "data": {"ok": True}}] and b.connected
    await b.close()


@pytest.mark.postgres
async def test_postgres_listener_loss_is_reported_and_recovered(postgres_url: str) -> None:
    backend = Backend(Settings(database_url=postgres_url))
    a, b = await backend.started(), await backend.started()
    assert isinstance(b, PostgresBus)
    received, states = recorder(b), []
    b.on_state(states.append)
    pid = b.listener_pid
    conn = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()
    lost_at = time.monotonic()
    await eventually(lambda: not b.connected, timeout=2.0)
    assert states[0] is False and time.monotonic() - lost_at < 2.0
    await eventually(lambda: b.connected, timeout=5.0)
    assert states == [False, True] and b.listener_pid not in (None, pid)
    await a.publish("auth-cache", {"after": "reconnect"})
    await eventually(lambda: len(received) == 1)
    assert received[0]["data"] == {"after": "reconnect"}
    for bus in backend.buses:
        await bus.close()


@pytest.mark.redis
async def test_redis_outage_is_reported_and_recovered() -> None:
    server = start_redis()  # private: killing the session's server would break other tests
    try:
        backend = Backend(Settings(redis_url=server.url))
        a, b = await backend.started(), await backend.started()
        received, states = recorder(b), []
        b.on_state(states.append)
        server.kill()
        killed_at = time.monotonic()
        await eventually(lambda: not b.connected, timeout=2.0)
        assert states == [False] and time.monotonic() - killed_at < 2.0
        await a.publish("auth-cache", {"lost": True})  # Redis is down: logged, not raised
        server = start_redis(port=server.port)
        await eventually(lambda: b.connected, timeout=5.0)
        assert states == [False, True]
        await a.publish("auth-cache", {"after": "restart"})
        await eventually(lambda: len(received) == 1)
        assert received[0]["data"] == {"after": "restart"}
        for bus in backend.buses:
            await bus.close()
        await close_redis_clients()
    finally:
        server.stop()


async def round_trips(backend: Backend, count: int = 200) -> list[float]:
    a, b = await backend.started(), await backend.started()
    arrived: asyncio.Future[None] | None = None

    def on_message(_message: dict[str, Any]) -> None:
        if arrived is not None and not arrived.done():
            arrived.set_result(None)

    b.subscribe("auth-cache", on_message)
    timings = []
    for i in range(count):
        arrived = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await a.publish("auth-cache", {"i": i})
        await asyncio.wait_for(arrived, 5)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentiles(timings: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=100)
    return statistics.median(timings), cuts[98]


@pytest.mark.postgres
async def test_postgres_round_trip_latency(postgres_url: str) -> None:
    backend = Backend(Settings(database_url=postgres_url))
    p50, p99 = percentiles(await round_trips(backend))
    print(f"\nPostgreSQL publish→receive over 200: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    for bus in backend.buses:
        await bus.close()
    assert p99 < 1000


@pytest.mark.redis
async def test_redis_round_trip_latency(redis_url: str) -> None:
    backend = Backend(Settings(redis_url=redis_url))
    p50, p99 = percentiles(await round_trips(backend))
    print(f"\nRedis publish→receive over 200: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    for bus in backend.buses:
        await bus.close()
    await close_redis_clients()
    assert p99 < 1000


@pytest.mark.parametrize(
    "settings",
    [
        Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none"),
        Settings(redis_url="redis://127.0.0.1:1/0"),
    ],
    ids=["postgres", "redis"],
)
async def test_start_returns_disconnected_when_the_peer_is_down(settings: Settings) -> None:
    bus = open_bus(settings)
    states: list[bool] = []
    bus.on_state(states.append)
    await asyncio.wait_for(bus.start(), 5)
    assert not bus.connected and states == []  # never connected: no change to report
    await bus.close()


async def test_publish_once_on_sqlite_reaches_workers_whatever_the_cli_settings(sqlite_url: str) -> None:
    """The CLI runs with ``workers = 1`` but the server may run ``--workers N`` on the same
    SQLite file: its message goes to the polled table either way."""
    from mastra.core.ee.bus import SQLitePollBus

    server = SQLitePollBus(sqlite_url)
    await server.start()
    try:
        received = recorder(server)
        await publish_once(Settings(database_url=sqlite_url), "auth-cache", {"from": "cli"})
        await eventually(lambda: len(received) == 1)
        assert received[0]["data"] == {"from": "cli"}
    finally:
        await server.close()
