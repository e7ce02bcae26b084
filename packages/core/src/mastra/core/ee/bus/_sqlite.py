"""Invalidation for several server processes sharing one SQLite file (``--workers N``).

SQLite has no notifications, so this is polling, honestly: ``publish`` appends a row to
``mastra_invalidations`` and every process reads the rows after the last id it saw
every 50 ms. A message therefore arrives within about 50 ms plus a write's wait for the
file lock, and each idle process costs one small query 20 times a second. SQLite
serialises writers and assigns ``AUTOINCREMENT`` ids inside the write transaction, so
ids become visible in order and ``id > last`` misses nothing. It works only for
processes on one host (a SQLite file on a network share is not supported by SQLite
itself); several nodes need PostgreSQL or Redis. Rows older than 60 s are deleted by
the publisher: a process that cannot read the table for that long has been
disconnected (TTL 0) and clears everything when it reads again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, delete, func, insert, select

from ..db import create_tables, get_engine
from ._base import ListeningBus

__all__ = ["INVALIDATIONS_TABLE", "SQLitePollBus"]

logger = logging.getLogger("mastra.ee.bus")

POLL_INTERVAL = 0.05
RETENTION_SECONDS = 60.0

_metadata = MetaData()
INVALIDATIONS_TABLE = Table(
    "mastra_invalidations",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("node", String(32), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("data", Text, nullable=False),
    Column("at", Float, nullable=False),
    sqlite_autoincrement=True,  # ids never reused, even after the old rows are deleted
)


class SQLitePollBus(ListeningBus):
    def __init__(self, database_url: str, *, node_id: str | None = None) -> None:
        super().__init__(node_id=node_id)
        self._url = database_url

    async def _listen(self, ready: Callable[[], None]) -> None:
        engine = get_engine(self._url)
        await create_tables(engine, _metadata)
        table = INVALIDATIONS_TABLE
        async with engine.connect() as conn:
            # Start after what is already there: older changes were applied before start.
            last = (await conn.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()
            await conn.rollback()
        ready()
        query = select(table.c.id, table.c.node, table.c.topic, table.c.data).order_by(table.c.id)
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            async with engine.connect() as conn:
                rows = (await conn.execute(query.where(table.c.id > last))).all()
            for row in rows:
                last = row.id
                self._dispatch(row.node, row.topic, _decode(row.data))

    async def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        message = self._encode(topic, data)
        if message is None:
            return
        payload = json.dumps(data or {}, separators=(",", ":"))
        table = INVALIDATIONS_TABLE
        now = time.time()
        try:
            engine = get_engine(self._url)
            await create_tables(engine, _metadata)
            async with engine.begin() as conn:
                await conn.execute(insert(table).values(node=self.node_id, topic=topic, data=payload, at=now))
                await conn.execute(delete(table).where(table.c.at < now - RETENTION_SECONDS))
        except Exception as exc:
            logger.error("Invalidation message for %r not sent: %r", topic, exc)

    async def close(self) -> None:
        await self._stop_listener()


def _decode(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None  # dropped by _dispatch
