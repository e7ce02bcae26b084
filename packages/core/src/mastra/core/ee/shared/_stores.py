"""Where shared marks and single-use ids live: the project database, or Redis.

A *mark* is a small string value under ``(namespace, key)`` with an expiry (a revoked
session id, a user's revocation cutoff); *once* keys answer "first time?" for replay
protection (webhook ids). Both must hold across processes and nodes, so the memory
store exists only for a single process without a database (tests, embedding).
Times are wall-clock epoch seconds: several nodes compare them.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, cast

from sqlalchemy import Column, Float, MetaData, PrimaryKeyConstraint, String, Table, Text, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ..cache import TTLCache
from ..db import create_tables, get_engine
from ..redis import get_redis

__all__ = ["MarkStore", "MemoryMarkStore", "RedisMarkStore", "SQLMarkStore"]


class MarkStore(Protocol):
    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None: ...

    async def load(self, namespace: str) -> dict[str, tuple[str, float]]:
        """Live marks of ``namespace``: key → (value, expires at)."""
        ...

    async def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        """Record ``key`` for ``ttl`` seconds; ``False`` when it is already recorded."""
        ...


class MemoryMarkStore:
    """One process only (nothing to share with)."""

    def __init__(self) -> None:
        self._marks: dict[str, dict[str, tuple[str, float]]] = {}
        self._once: TTLCache[tuple[str, str], bool] = TTLCache(ttl=None, max_size=100_000, clock=time.time)

    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._marks.setdefault(namespace, {})[key] = (value, time.time() + ttl)

    async def load(self, namespace: str) -> dict[str, tuple[str, float]]:
        now = time.time()
        return {k: v for k, v in self._marks.get(namespace, {}).items() if v[1] > now}

    async def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        return self._once.add((namespace, key), True, ttl=ttl)


_metadata = MetaData()
_marks = Table(
    "mastra_shared_marks",
    _metadata,
    Column("namespace", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
    PrimaryKeyConstraint("namespace", "key", name="pk_mastra_shared_marks"),
)


class SQLMarkStore:
    """A table on the project database. ``first_time`` is one ``INSERT … ON CONFLICT DO
    NOTHING`` (after removing the key's expired row): exactly one of concurrent callers
    inserts, on SQLite and PostgreSQL alike."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def _engine(self) -> AsyncEngine:
        engine = get_engine(self.database_url)
        await create_tables(engine, _metadata)
        return engine

    @staticmethod
    def _insert(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        return pg_insert(_marks) if engine.dialect.name == "postgresql" else sqlite_insert(_marks)

    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        engine = await self._engine()
        now = time.time()
        row = {"namespace": namespace, "key": key, "value": value, "expires_at": now + ttl}
        statement = self._insert(engine).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=["namespace", "key"],
            set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at},
        )
        async with engine.begin() as conn:
            await conn.execute(statement)
            # Expired rows go with the writes (revocations are rare; no sweeper task).
            expired = (_marks.c.namespace == namespace) & (_marks.c.expires_at <= now)
            await conn.execute(delete(_marks).where(expired))

    async def load(self, namespace: str) -> dict[str, tuple[str, float]]:
        engine = await self._engine()
        query = select(_marks.c.key, _marks.c.value, _marks.c.expires_at).where(
            _marks.c.namespace == namespace, _marks.c.expires_at > time.time()
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.key: (row.value, float(row.expires_at)) for row in rows}

    async def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        engine = await self._engine()
        now = time.time()
        statement = (
            self._insert(engine)
            .values(namespace=f"once:{namespace}", key=key, value="1", expires_at=now + ttl)
            .on_conflict_do_nothing(index_elements=["namespace", "key"])
        )
        async with engine.begin() as conn:
            await conn.execute(
                delete(_marks).where(
                    _marks.c.namespace == f"once:{namespace}", _marks.c.key == key, _marks.c.expires_at <= now
                )
            )
            result = await conn.execute(statement)
        return bool(result.rowcount)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisMarkStore:
    """``mastra:mark:<ns>`` is a hash of key → value plus a sorted set of expiries
    (``mastra:mark-exp:<ns>``) so a node loads the live marks in two reads; ``first_time``
    is ``SET NX PX``."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        client = get_redis(self.redis_url)
        now = time.time()
        values, expiries = f"mastra:mark:{namespace}", f"mastra:mark-exp:{namespace}"
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(values, key, value)
            pipe.zadd(expiries, {key: now + ttl})
            await pipe.execute()
        # Expired keys leave both structures with the writes (revocations are rare).
        expired = await client.zrangebyscore(expiries, "-inf", now)
        if expired:
            async with client.pipeline(transaction=True) as pipe:
                pipe.hdel(values, *expired)
                pipe.zrem(expiries, *expired)
                await pipe.execute()

    async def load(self, namespace: str) -> dict[str, tuple[str, float]]:
        client = get_redis(self.redis_url)
        expiries = f"mastra:mark-exp:{namespace}"
        live = cast(
            "list[tuple[Any, float]]",
            await client.zrangebyscore(expiries, time.time(), "+inf", withscores=True),
        )
        if not live:
            return {}
        keys = [_text(member) for member, _ in live]
        values = await client.hmget(f"mastra:mark:{namespace}", keys)
        return {
            key: (_text(value), float(score))
            for key, (_, score), value in zip(keys, live, values, strict=True)
            if value is not None
        }

    async def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        client = get_redis(self.redis_url)
        ttl_ms = max(1, int(ttl * 1000))
        return bool(await client.set(f"mastra:once:{namespace}:{key}", b"1", nx=True, px=ttl_ms))
