"""Single-use store of pending SSO states (SPEC 9.4 step 3, S9).

The sealed state cookie binds a login to the browser; this store makes each state
usable once, across processes and nodes when it is SQL- or Redis-backed. Only SHA-256
of the state is kept (S2), in the row or the key name. Entries live 10 minutes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from sqlalchemy import Column, Float, MetaData, String, Table, delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ..ee.crypto import sha256_hex
from ..ee.db import create_tables, get_engine
from ..ee.redis import get_redis

__all__ = ["STATE_TTL", "MemoryStateStore", "RedisStateStore", "SQLStateStore", "StateStore"]

STATE_TTL = 600


class StateStore(Protocol):
    async def add(self, state: str, ttl: int = STATE_TTL) -> None: ...
    async def consume(self, state: str) -> bool: ...


class MemoryStateStore:
    def __init__(self) -> None:
        self._pending: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def add(self, state: str, ttl: int = STATE_TTL) -> None:
        now = time.time()
        async with self._lock:
            for key in [k for k, exp in self._pending.items() if exp <= now]:
                del self._pending[key]
            self._pending[sha256_hex(state)] = now + ttl

    async def consume(self, state: str) -> bool:
        async with self._lock:
            expires = self._pending.pop(sha256_hex(state), None)
        return expires is not None and expires > time.time()


_metadata = MetaData()
_states = Table(
    "mastra_sso_states",
    _metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False),
)


class SQLStateStore:
    """``DELETE ... WHERE hash = ? AND expires_at > now``: one row deleted = first use."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @property
    def engine(self) -> AsyncEngine:
        # Resolved on first use: an app without SSO never touches the database.
        return get_engine(self.database_url)

    async def add(self, state: str, ttl: int = STATE_TTL) -> None:
        await create_tables(self.engine, _metadata)
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(delete(_states).where(_states.c.expires_at <= now))
            await conn.execute(insert(_states).values(state_hash=sha256_hex(state), expires_at=now + ttl))

    async def consume(self, state: str) -> bool:
        await create_tables(self.engine, _metadata)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(_states).where(
                    _states.c.state_hash == sha256_hex(state), _states.c.expires_at > time.time()
                )
            )
        return result.rowcount == 1


class RedisStateStore:
    """``SET mastra:sso:<sha256> 1 EX ttl``, consumed by ``GETDEL``: one atomic command,
    so of two callbacks racing on any nodes exactly one finds the key. Redis expires it."""

    KEY_PREFIX = "mastra:sso:"

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    def _key(self, state: str) -> str:
        return self.KEY_PREFIX + sha256_hex(state)

    async def add(self, state: str, ttl: int = STATE_TTL) -> None:
        await get_redis(self.redis_url).set(self._key(state), "1", ex=ttl)

    async def consume(self, state: str) -> bool:
        return await get_redis(self.redis_url).getdel(self._key(state)) is not None
