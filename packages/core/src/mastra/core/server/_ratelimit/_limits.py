"""What every rate-limit store shares: limits, the store contract, the wait rule, keys."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Protocol

import limits

from ...ee.crypto import sha256_hex
from ...ee.errors import ConfigurationError

__all__ = ["Limit", "Store", "account_key", "normalise_email", "parse_limit", "wait_seconds"]


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


def wait_seconds(oldest_blocking: float, limit: Limit, now: float) -> int:
    """Seconds until the entry that makes the window full ages out, 1 to the window."""
    # Never more than the window: an entry stamped by another process whose clock is a
    # little ahead must not push Retry-After past what the limit can ask for.
    return max(1, min(limit.seconds, math.ceil(oldest_blocking + limit.seconds - now)))
