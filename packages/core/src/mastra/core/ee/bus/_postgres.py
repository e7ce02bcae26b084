"""Invalidation over PostgreSQL ``LISTEN/NOTIFY`` on channel ``mastra_ee``.

The listener owns one asyncpg connection for the life of the process, outside the
SQLAlchemy pool: ``LISTEN`` belongs to a session, and a pooled connection would be
recycled (and its subscription lost) behind our back. Loss is noticed two ways: asyncpg's
termination listener (the server closed the connection) and a ``SELECT 1`` every second
(the network went silent). Publishing uses a second dedicated connection, opened on
first use: ``pg_notify`` on it measured faster than through the SQLAlchemy engine
(benchmarks/bench_bus.py), and a publish never waits for a pool slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from ._base import CHANNEL, PROBE_INTERVAL, ListeningBus

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresBus", "asyncpg_dsn"]

logger = logging.getLogger("mastra.ee.bus")

_CONNECT_TIMEOUT = 2.0
_NOTIFY = f"SELECT pg_notify('{CHANNEL}', $1)"


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) as a DSN asyncpg accepts, password kept."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _connect(dsn: str) -> asyncpg.Connection:
    import asyncpg

    return await asyncpg.connect(dsn, timeout=_CONNECT_TIMEOUT)


class PostgresBus(ListeningBus):
    def __init__(self, database_url: str, *, node_id: str | None = None) -> None:
        super().__init__(node_id=node_id)
        self._dsn = asyncpg_dsn(database_url)
        self._publisher: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()
        #: The listening connection's backend pid (tests terminate it to simulate loss).
        self.listener_pid: int | None = None

    async def _listen(self, ready: Callable[[], None]) -> None:
        connection = await _connect(self._dsn)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _conn: lost.set())
            await connection.add_listener(CHANNEL, self._on_notify)
            self.listener_pid = connection.get_server_pid()
            ready()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PROBE_INTERVAL)
                if not lost.is_set():
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), PROBE_INTERVAL * 2)
        finally:
            self.listener_pid = None
            connection.terminate()  # no goodbye round trip: it may be dead already

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._deliver(payload)

    async def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        message = self._encode(topic, data)
        if message is None:
            return
        async with self._publish_lock:
            # Two tries: the first may find the kept connection closed by a restart.
            for attempt in (1, 2):
                try:
                    if self._publisher is None or self._publisher.is_closed():
                        self._publisher = await _connect(self._dsn)
                    await asyncio.wait_for(self._publisher.execute(_NOTIFY, message), _CONNECT_TIMEOUT)
                    return
                except Exception as exc:
                    await self._drop_publisher()
                    if attempt == 2:
                        logger.error("Invalidation message for %r not sent: %r", topic, exc)

    async def _drop_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.terminate()

    async def close(self) -> None:
        await self._stop_listener()
        async with self._publish_lock:
            publisher, self._publisher = self._publisher, None
            if publisher is not None and not publisher.is_closed():
                try:
                    await asyncio.wait_for(publisher.close(), _CONNECT_TIMEOUT)
                except Exception:
                    publisher.terminate()
