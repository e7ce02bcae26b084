"""Failure-based rate limits (SPEC 9.5, S7) on the ``limits`` library.

Windows are *moving*: a key is blocked while it holds ``N`` failures younger than the
window, and ``Retry-After`` is the time until the oldest one ages out, so a block
never outlives its window (no permanent lockout).

Storage: ``memory`` (per process, ``limits`` MemoryStorage); any ``limits`` storage
URI (``redis://...``; the ``async+`` scheme is added); or ``sql``: a small table on
the project database (``limits`` has no SQL storage) shared by every process.
"""

from __future__ import annotations

import math
import time
import unicodedata
from dataclasses import dataclass
from typing import Protocol

import limits
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, delete, func, insert, select

from ..ee.crypto import sha256_hex
from ..ee.db import create_tables, get_engine
from ..ee.errors import ConfigurationError

__all__ = ["FailureLimiter", "Limit", "account_key", "normalise_email", "parse_limit"]


@dataclass(frozen=True)
class Limit:
    amount: int
    seconds: int


def parse_limit(text: str) -> Limit:
    """``"10/60"`` (N per seconds) or any ``limits`` string (``"10/minute"``)."""
    amount, sep, window = text.strip().partition("/")
    if sep and amount.strip().isdigit() and window.strip().isdigit():
        limit = Limit(int(amount), int(window))
    else:
        try:
            item = limits.parse(text)
        except ValueError as exc:
            raise ConfigurationError(f"Invalid rate limit '{text}'") from exc
        limit = Limit(item.amount, item.get_expiry())
    if limit.amount < 1 or limit.seconds < 1:
        raise ConfigurationError(f"Invalid rate limit '{text}'")
    return limit


def normalise_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email.strip()).lower()


def account_key(email: str) -> str:
    return sha256_hex(normalise_email(email))


class _Backend(Protocol):
    async def retry_after(self, key: str, limit: Limit) -> int | None: ...
    async def hit(self, key: str, limit: Limit) -> None: ...
    async def clear(self, key: str, limit: Limit) -> None: ...


class _LimitsBackend:
    def __init__(self, uri: str) -> None:
        if not uri.startswith("async+"):
            uri = f"async+{uri}"
        self.limiter = MovingWindowRateLimiter(storage_from_string(uri))

    @staticmethod
    def _item(limit: Limit) -> limits.RateLimitItem:
        return limits.RateLimitItemPerSecond(limit.amount, limit.seconds)

    async def retry_after(self, key: str, limit: Limit) -> int | None:
        item = self._item(limit)
        if await self.limiter.test(item, key):
            return None
        stats = await self.limiter.get_window_stats(item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, key: str, limit: Limit) -> None:
        await self.limiter.hit(self._item(limit), key)

    async def clear(self, key: str, limit: Limit) -> None:
        await self.limiter.clear(self._item(limit), key)


_metadata = MetaData()
_hits = Table(
    "mastra_rate_limit_hits",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_mastra_rate_limit_hits_key_at", "key", "at"),
)


class _SQLBackend:
    """One row per failure; counting rows younger than the window is a moving window."""

    def __init__(self, database_url: str) -> None:
        self.engine = get_engine(database_url)

    async def retry_after(self, key: str, limit: Limit) -> int | None:
        await create_tables(self.engine, _metadata)
        now = time.time()
        query = select(func.count(), func.min(_hits.c.at)).where(
            _hits.c.key == key, _hits.c.at > now - limit.seconds
        )
        async with self.engine.connect() as conn:
            count, oldest = (await conn.execute(query)).one()
        if count < limit.amount:
            return None
        # The window frees when enough old hits expire; the oldest is a safe lower bound.
        return max(1, math.ceil(float(oldest) + limit.seconds - now))

    async def hit(self, key: str, limit: Limit) -> None:
        await create_tables(self.engine, _metadata)
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(insert(_hits).values(key=key, at=now))
            await conn.execute(delete(_hits).where(_hits.c.key == key, _hits.c.at <= now - limit.seconds))

    async def clear(self, key: str, limit: Limit) -> None:
        await create_tables(self.engine, _metadata)
        async with self.engine.begin() as conn:
            await conn.execute(delete(_hits).where(_hits.c.key == key))


class FailureLimiter:
    """Per-IP and per-account failure counters plus the password-reset request quota."""

    RESET_REQUESTS = Limit(3, 900)

    def __init__(self, *, ip: str, account: str, storage: str, database_url: str) -> None:
        self.ip_limit = parse_limit(ip)
        self.account_limit = parse_limit(account)
        self._storage = storage.strip() or "memory"
        self._database_url = database_url
        self._backend: _Backend | None = None
        if self._storage not in {"memory", "sql"} and "://" not in self._storage:
            raise ConfigurationError(
                f"Unknown rate limit storage '{storage}' (use memory, sql or a limits storage URI)"
            )

    @property
    def backend(self) -> _Backend:
        if self._backend is None:
            if self._storage == "sql":
                self._backend = _SQLBackend(self._database_url)
            elif self._storage == "memory":
                self._backend = _LimitsBackend("memory://")
            else:
                self._backend = _LimitsBackend(self._storage)
        return self._backend

    def _keys(self, ip: str | None, email: str | None) -> list[tuple[str, Limit]]:
        keys = [(f"auth-fail:ip:{ip or 'unknown'}", self.ip_limit)]
        if email:
            keys.append((f"auth-fail:acct:{account_key(email)}", self.account_limit))
        return keys

    async def blocked(self, ip: str | None, email: str | None) -> int | None:
        """Seconds until the caller may retry, or ``None`` when not blocked."""
        waits = [await self.backend.retry_after(k, lim) for k, lim in self._keys(ip, email)]
        found = [w for w in waits if w is not None]
        return max(found) if found else None

    async def failed(self, ip: str | None, email: str | None) -> None:
        for key, limit in self._keys(ip, email):
            await self.backend.hit(key, limit)

    async def succeeded(self, email: str | None) -> None:
        if email:
            await self.backend.clear(f"auth-fail:acct:{account_key(email)}", self.account_limit)

    async def reset_request_ip_wait(self, ip: str | None) -> int | None:
        key = f"reset-req:ip:{ip or 'unknown'}"
        wait = await self.backend.retry_after(key, self.ip_limit)
        if wait is None:
            await self.backend.hit(key, self.ip_limit)
        return wait

    async def allow_reset_delivery(self, email: str) -> bool:
        """At most 3 reset requests per 15 minutes per account; the rest are dropped."""
        key = f"reset-req:acct:{account_key(email)}"
        if await self.backend.retry_after(key, self.RESET_REQUESTS) is not None:
            return False
        await self.backend.hit(key, self.RESET_REQUESTS)
        return True
