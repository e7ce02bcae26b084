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

Storage (``[auth.rate_limit] storage``): ``memory`` (this process), ``sql`` (a table on
the project database) or ``redis`` (``MASTRA_REDIS_URL``); the last two are shared by
every process and node. ``auto`` picks ``redis`` when a Redis URL is set, else ``sql``
on PostgreSQL or with several workers, else ``memory`` (one process on SQLite). A store
that fails raises :class:`RateLimitUnavailable`: the credential routes fail *closed*
(503), never open.

The ``limits`` library parses limit strings (``"10 per minute"``); its moving-window
storages cannot give one entry back, which the refund on success needs, so the
stores here are small and exact (Redis: one Lua script, see ``_redis``).
"""

from __future__ import annotations

from ._limiter import Attempt, FailureLimiter, open_store, resolve_storage
from ._limits import Limit, Store, account_key, normalise_email, parse_limit
from ._limits import wait_seconds as _wait  # noqa: F401  (the name the tests know)
from ._memory import MemoryStore
from ._redis import RedisStore
from ._sql import SQLStore

__all__ = [
    "Attempt",
    "FailureLimiter",
    "Limit",
    "MemoryStore",
    "RedisStore",
    "SQLStore",
    "Store",
    "account_key",
    "normalise_email",
    "open_store",
    "parse_limit",
    "resolve_storage",
]
