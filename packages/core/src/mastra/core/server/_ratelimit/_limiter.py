"""The credential routes' limiter: which keys an attempt takes, and how it settles them."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import make_url

from ...ee.errors import ConfigurationError, RateLimited, RateLimitUnavailable
from ._limits import Limit, Store, account_key, parse_limit
from ._memory import MemoryStore
from ._redis import RedisStore
from ._sql import SQLStore

__all__ = ["Attempt", "FailureLimiter", "open_store", "resolve_storage"]

_T = TypeVar("_T")
_STORES = frozenset({"memory", "sql", "redis"})


@dataclass
class Attempt:
    """The slots one request took; :meth:`FailureLimiter.succeeded` / ``failed`` settle them."""

    email: str | None
    failure_slots: list[tuple[str, str]] = field(default_factory=list)
    quota_slots: list[tuple[str, str]] = field(default_factory=list)


def resolve_storage(
    storage: str, database_url: str, *, redis_url: str | None = None, workers: int = 1
) -> str:
    """``auto`` → ``redis`` with a Redis URL; ``sql`` on PostgreSQL or with several
    workers (they share the database, even SQLite); else ``memory`` (one process)."""
    name = storage.strip().lower() or "auto"
    if name == "auto":
        if redis_url:
            return "redis"
        shared = workers > 1 or make_url(database_url).get_backend_name() == "postgresql"
        return "sql" if shared else "memory"
    if name not in _STORES:
        raise ConfigurationError(f"Unknown rate limit storage '{storage}' (use auto, memory, sql or redis)")
    if name == "memory" and workers > 1:
        raise ConfigurationError(
            "MASTRA_AUTH__RATE_LIMIT__STORAGE=memory keeps counters per process; "
            "with several workers use sql or redis"
        )
    if name == "redis" and not redis_url:
        raise ConfigurationError("MASTRA_AUTH__RATE_LIMIT__STORAGE=redis needs MASTRA_REDIS_URL")
    return name


def open_store(storage: str, database_url: str, redis_url: str | None) -> Store:
    """The store a :func:`resolve_storage` name stands for."""
    if storage == "redis":
        if not redis_url:
            raise ConfigurationError("MASTRA_AUTH__RATE_LIMIT__STORAGE=redis needs MASTRA_REDIS_URL")
        return RedisStore(redis_url)
    if storage == "sql":
        return SQLStore(database_url)
    return MemoryStore()


class FailureLimiter:
    """Per-IP and per-account failure slots, the sign-up quota and the reset quotas."""

    RESET_REQUESTS = Limit(3, 900)

    def __init__(
        self,
        *,
        ip: str,
        account: str,
        sign_up: str,
        storage: str,
        database_url: str,
        redis_url: str | None = None,
        workers: int = 1,
    ) -> None:
        self.ip_limit = parse_limit(ip)
        self.account_limit = parse_limit(account)
        self.sign_up_limit = parse_limit(sign_up)
        self.storage = resolve_storage(storage, database_url, redis_url=redis_url, workers=workers)
        self.backend: Store = open_store(self.storage, database_url, redis_url)

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
