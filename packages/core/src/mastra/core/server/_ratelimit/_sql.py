"""Rate-limit store on the project database, shared by every process using it."""

from __future__ import annotations

import time

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ...ee.crypto import sha256_hex
from ...ee.db import create_tables, get_engine, take_write_lock
from ._limits import Limit, wait_seconds

__all__ = ["SQLStore"]

_metadata = MetaData()
_hits = Table(
    "mastra_rate_limit_hits",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_mastra_rate_limit_hits_key_at", "key", "at"),
)


class SQLStore:
    """One row per entry on the project database, shared by every process.

    Check and insert run in one transaction that holds a write lock: ``BEGIN
    IMMEDIATE`` on SQLite, a transaction-scoped advisory lock per key on PostgreSQL.
    """

    def __init__(self, database_url: str) -> None:
        self.engine = get_engine(database_url)

    @staticmethod
    async def _lock(conn: AsyncConnection, key: str) -> None:
        await take_write_lock(conn, int(sha256_hex(f"mastra-rate-limit:{key}")[:15], 16))

    async def acquire(self, key: str, limit: Limit) -> str | int:
        await create_tables(self.engine, _metadata)
        async with self.engine.connect() as conn:
            await self._lock(conn, key)
            # Read the clock once the lock is held: a time read before waiting for it is
            # older than the entries written meanwhile (Retry-After came out 301 of 300).
            now = time.time()
            await conn.execute(delete(_hits).where(_hits.c.key == key, _hits.c.at <= now - limit.seconds))
            count = (await conn.execute(select(func.count()).where(_hits.c.key == key))).scalar_one()
            if count >= limit.amount:
                blocking = (
                    await conn.execute(
                        select(_hits.c.at)
                        .where(_hits.c.key == key)
                        .order_by(_hits.c.at)
                        .offset(count - limit.amount)
                        .limit(1)
                    )
                ).scalar_one()
                await conn.commit()
                return wait_seconds(float(blocking), limit, now)
            entry = (
                await conn.execute(_hits.insert().values(key=key, at=now).returning(_hits.c.id))
            ).scalar_one()
            await conn.commit()
        return str(entry)

    async def release(self, key: str, entry: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(_hits).where(_hits.c.key == key, _hits.c.id == int(entry)))

    async def clear(self, key: str) -> None:
        await create_tables(self.engine, _metadata)
        async with self.engine.begin() as conn:
            await conn.execute(delete(_hits).where(_hits.c.key == key))
