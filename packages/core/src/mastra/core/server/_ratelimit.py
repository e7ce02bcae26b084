"""Rate limits on the credential routes (SPEC 9.5, S7, S21).

Every attempt takes a slot *before* the password is verified, atomically: the
check and the count are one step, so however many requests arrive at once, at most
``N`` verifications per key and window happen. What happens afterwards decides
whether the slot stays taken:

* a failed attempt keeps its failure slots (per IP and per account);
* a success gives its IP slot back and clears the account key (only failures
  count, SPEC 9.5);
* a sign-up also takes a slot of the per-IP sign-up quota, kept only on success.

Windows are *moving*: a key is full while it holds ``N`` entries younger than the
window, and ``Retry-After`` is the time until enough of them age out, so a block
never outlives its window (no permanent lockout).

Storage: ``memory`` (this process) or ``sql`` (a table on the project database,
shared by every process). ``auto`` picks ``sql`` on PostgreSQL, ``memory`` on
SQLite (one process). A store that fails raises :class:`RateLimitUnavailable`:
the credential routes fail *closed* (503), never open.

The ``limits`` library parses limit strings (``"10 per minute"``); its moving-window
storages cannot give one entry back, which the refund on success needs, so the two
stores here are small and exact.
"""

from __future__ import annotations

import math
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import limits
from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, delete, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from ..ee.crypto import sha256_hex
from ..ee.db import create_tables, get_engine
from ..ee.errors import ConfigurationError, RateLimited, RateLimitUnavailable

__all__ = [
    "Attempt",
    "FailureLimiter",
    "Limit",
    "MemoryStore",
    "SQLStore",
    "account_key",
    "normalise_email",
    "parse_limit",
]


_T = TypeVar("_T")


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


class Store(Protocol):
    """A moving-window counter whose entries can be given back one by one."""

    async def acquire(self, key: str, limit: Limit) -> str | int:
        """An entry id when a slot was free (and is now taken), else seconds to wait."""
        ...

    async def release(self, key: str, entry: str) -> None: ...

    async def clear(self, key: str) -> None: ...


def _wait(oldest_blocking: float, limit: Limit, now: float) -> int:
    # Never more than the window: an entry stamped by another process whose clock is a
    # little ahead must not push Retry-After past what the limit can ask for.
    return max(1, min(limit.seconds, math.ceil(oldest_blocking + limit.seconds - now)))


class MemoryStore:
    """Per-process store. Nothing awaits between the check and the count, so on one
    event loop the pair is atomic without a lock."""

    SWEEP_EVERY = 1024

    def __init__(self) -> None:
        self._entries: dict[str, deque[tuple[float, str]]] = {}
        self._operations = 0

    def _live(self, key: str, seconds: int, now: float) -> deque[tuple[float, str]]:
        entries = self._entries.setdefault(key, deque())
        while entries and entries[0][0] <= now - seconds:
            entries.popleft()
        return entries

    async def acquire(self, key: str, limit: Limit) -> str | int:
        now = time.time()
        self._sweep(now, limit.seconds)
        entries = self._live(key, limit.seconds, now)
        if len(entries) >= limit.amount:
            # The window frees when the entry that makes it full ages out.
            return _wait(entries[len(entries) - limit.amount][0], limit, now)
        entry = uuid.uuid4().hex
        entries.append((now, entry))
        return entry

    async def release(self, key: str, entry: str) -> None:
        entries = self._entries.get(key)
        if entries is None:
            return
        for item in entries:
            if item[1] == entry:
                entries.remove(item)
                break

    async def clear(self, key: str) -> None:
        self._entries.pop(key, None)

    def _sweep(self, now: float, seconds: int) -> None:
        # Keys of idle IPs and accounts would otherwise stay forever; windows are at
        # most hours, so dropping keys whose newest entry is a day old is safe.
        self._operations += 1
        if self._operations % self.SWEEP_EVERY:
            return
        horizon = now - max(seconds, 86_400)
        for key in [k for k, v in self._entries.items() if not v or v[-1][0] <= horizon]:
            del self._entries[key]


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
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            lock_id = int(sha256_hex(f"mastra-rate-limit:{key}")[:15], 16)
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})

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
                return _wait(float(blocking), limit, now)
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


@dataclass
class Attempt:
    """The slots one request took; :meth:`FailureLimiter.succeeded` / ``failed`` settle them."""

    email: str | None
    failure_slots: list[tuple[str, str]] = field(default_factory=list)
    quota_slots: list[tuple[str, str]] = field(default_factory=list)


def resolve_storage(storage: str, database_url: str) -> str:
    """``auto`` → ``sql`` on PostgreSQL (several processes share it), else ``memory``."""
    name = storage.strip().lower() or "auto"
    if name == "auto":
        return "sql" if make_url(database_url).get_backend_name() == "postgresql" else "memory"
    if name not in {"memory", "sql"}:
        raise ConfigurationError(f"Unknown rate limit storage '{storage}' (use auto, memory or sql)")
    return name


class FailureLimiter:
    """Per-IP and per-account failure slots, the sign-up quota and the reset quotas."""

    RESET_REQUESTS = Limit(3, 900)

    def __init__(self, *, ip: str, account: str, sign_up: str, storage: str, database_url: str) -> None:
        self.ip_limit = parse_limit(ip)
        self.account_limit = parse_limit(account)
        self.sign_up_limit = parse_limit(sign_up)
        self.storage = resolve_storage(storage, database_url)
        self.backend: Store = SQLStore(database_url) if self.storage == "sql" else MemoryStore()

    @staticmethod
    async def _call(operation: Awaitable[_T]) -> _T:
        try:
            return await operation
        except Exception as exc:
            raise RateLimitUnavailable() from exc

    async def _take(self, keys: list[tuple[str, Limit]]) -> list[tuple[str, str]]:
        """All of ``keys`` or none: a refusal gives back what was already taken."""
        taken: list[tuple[str, str]] = []
        for key, limit in keys:
            result = await self._call(self.backend.acquire(key, limit))
            if isinstance(result, int):
                await self._give_back(taken)
                raise RateLimited(retry_after=result)
            taken.append((key, result))
        return taken

    async def _give_back(self, slots: list[tuple[str, str]]) -> None:
        for key, entry in slots:
            await self._call(self.backend.release(key, entry))

    @staticmethod
    def _ip(ip: str | None) -> str:
        return ip or "unknown"

    async def begin(self, ip: str | None, email: str | None, *, sign_up: bool = False) -> Attempt:
        """Take the slots of one credential attempt; :class:`RateLimited` when full."""
        failure = [(f"auth-fail:ip:{self._ip(ip)}", self.ip_limit)]
        if email:
            failure.append((f"auth-fail:acct:{account_key(email)}", self.account_limit))
        attempt = Attempt(email=email)
        attempt.failure_slots = await self._take(failure)
        if sign_up:
            try:
                attempt.quota_slots = await self._take([(f"sign-up:ip:{self._ip(ip)}", self.sign_up_limit)])
            except BaseException:
                await self._give_back(attempt.failure_slots)
                raise
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        """A success is not a failure: give the failure slots back, reset the account."""
        await self._give_back(attempt.failure_slots)
        if attempt.email:
            await self._call(self.backend.clear(f"auth-fail:acct:{account_key(attempt.email)}"))

    async def failed(self, attempt: Attempt) -> None:
        """The failure slots stay taken; a refused sign-up does not use the quota."""
        await self._give_back(attempt.quota_slots)

    async def cancel(self, attempt: Attempt) -> None:
        """Nothing was verified (the provider was unreachable): every slot goes back."""
        await self._give_back([*attempt.failure_slots, *attempt.quota_slots])

    async def api_key_failure(self, ip: str | None) -> None:
        """A refused API key takes one slot of ``ip``'s key-failure window (the size of the
        sign-in one, counted apart: a misconfigured job's keys never lock its network out
        of signing in); :class:`RateLimited` when it was already full."""
        await self._take([(f"apikey-fail:ip:{self._ip(ip)}", self.ip_limit)])

    async def begin_reset_request(self, ip: str | None) -> None:
        """Password-reset requests count per IP like failures (they cost a delivery)."""
        await self._take([(f"reset-req:ip:{self._ip(ip)}", self.ip_limit)])

    async def allow_reset_delivery(self, email: str) -> bool:
        """At most 3 reset deliveries per 15 minutes per account; the rest are dropped."""
        try:
            await self._take([(f"reset-req:acct:{account_key(email)}", self.RESET_REQUESTS)])
        except RateLimited:
            return False
        return True
