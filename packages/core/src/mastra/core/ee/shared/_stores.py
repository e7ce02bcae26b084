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

from sqlalchemy import (
    Column,
    Float,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    case,
    delete,
    select,
    update,
)
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

    async def keep(self, namespace: str, key: str, ttl: float) -> None:
        """Keep a recorded ``key`` for ``ttl`` seconds from now (a claim made final)."""
        ...


class MemoryMarkStore:
    """One process only (nothing to share with)."""

    def __init__(self) -> None:
        self._marks: dict[str, dict[str, tuple[str, float]]] = {}
        self._once: TTLCache[tuple[str, str], bool] = TTLCache(ttl=None, max_size=100_000, clock=time.time)

    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        marks, now = self._marks.setdefault(namespace, {}), time.time()
        current = marks.get(key)
        if current is None or current[1] <= now:
            marks[key] = (value, now + ttl)
        else:  # marks only rise, as in the other stores
            marks[key] = (max(value, current[0]), max(now + ttl, current[1]))

    async def load(self, namespace: str) -> dict[str, tuple[str, float]]:
        now = time.time()
        return {k: v for k, v in self._marks.get(namespace, {}).items() if v[1] > now}

    async def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        return self._once.add((namespace, key), True, ttl=ttl)

    async def keep(self, namespace: str, key: str, ttl: float) -> None:
        self._once.set((namespace, key), True, ttl=ttl)


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
        new, old = statement.excluded, _marks.c
        # Marks never go down: a concurrent or late writer with a smaller value (an older
        # cutoff) or a shorter life leaves the row as it is, unless the row had expired.
        expired_row = old.expires_at <= now
        statement = statement.on_conflict_do_update(
            index_elements=["namespace", "key"],
            set_={
                "value": case((expired_row | (new.value > old.value), new.value), else_=old.value),
                "expires_at": case(
                    (expired_row | (new.expires_at > old.expires_at), new.expires_at), else_=old.expires_at
                ),
            },
        )
        async with engine.begin() as conn:
            # Expired rows go with the writes (revocations are rare; no sweeper task).
            expired = (_marks.c.namespace == namespace) & (_marks.c.expires_at <= now) & (_marks.c.key != key)
            await conn.execute(delete(_marks).where(expired))
            await conn.execute(statement)

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

    async def keep(self, namespace: str, key: str, ttl: float) -> None:
        engine = await self._engine()
        row = (_marks.c.namespace == f"once:{namespace}") & (_marks.c.key == key)
        async with engine.begin() as conn:
            await conn.execute(update(_marks).where(row).values(expires_at=time.time() + ttl))


#: KEYS: values hash, expiries zset. ARGV: key, value, expires at, now. Expired keys go
#: first; then the mark only rises (a larger value, a later expiry), as in the SQL store.
_PUT_SCRIPT = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
for _, k in ipairs(expired) do redis.call('HDEL', KEYS[1], k) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4]) end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or ARGV[2] > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local expires = redis.call('ZSCORE', KEYS[2], ARGV[1])
if (not expires) or tonumber(ARGV[3]) > tonumber(expires) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 1
"""


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
        keys = [f"mastra:mark:{namespace}", f"mastra:mark-exp:{namespace}"]
        # One script: the sweep of expired keys and the write cannot interleave with
        # another node's write of the same key (a fresh mark is never swept).
        await client.eval(_PUT_SCRIPT, 2, *keys, key, value, f"{now + ttl:.6f}", f"{now:.6f}")

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

    async def keep(self, namespace: str, key: str, ttl: float) -> None:
        client = get_redis(self.redis_url)
        await client.set(f"mastra:once:{namespace}:{key}", b"1", px=max(1, int(ttl * 1000)))
