"""Retries for outbound calls: one policy for every provider, built on stamina.

Only transient failures are retried: network errors, 5xx and 429. Another 4xx is an
answer that would not change, so it is returned at once. Waits grow exponentially with
random jitter (workers that failed together do not retry together), and both the number
of attempts and the total time are bounded. Tests turn the waits off with
``stamina.set_testing(True, attempts=..., cap=True)``.

A call site says what is transient for its client library and raises
:class:`TransientResponse` for a 5xx/429 answer it wants retried::

    async def attempt() -> httpx.Response:
        response = await client.get(url)
        if is_transient_status(response.status_code):
            raise TransientResponse(response.status_code, response)
        return response

    try:
        response = await policy.call(attempt, transient=is_transient_error)
    except TransientResponse as last:  # still failing after the last attempt
        ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import stamina

__all__ = ["RetryPolicy", "TransientResponse", "is_transient_error", "is_transient_status"]

T = TypeVar("T")


def is_transient_status(status: int) -> bool:
    """5xx and 429 may succeed when repeated; every other status is the final answer."""
    return status == 429 or status >= 500


class TransientResponse(Exception):
    """A 5xx or 429 answer raised inside an attempt so that it is retried; after the
    last attempt it reaches the caller, which still has the ``response``."""

    def __init__(self, status: int, response: Any = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.response = response


def is_transient_error(exc: Exception) -> bool:
    """Retry predicate for httpx calls: network failures and :class:`TransientResponse`.
    A request httpx refuses to send (``LocalProtocolError``, e.g. a newline in a header)
    would be refused again, so it is not retried."""
    if isinstance(exc, httpx.LocalProtocolError):
        return False
    return isinstance(exc, TransientResponse | httpx.TransportError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry.

    ``attempts`` counts the first try; ``total_timeout`` bounds the time from the first
    try to the start of the last (an attempt in flight is bounded by its own request
    timeout); waits start at ``wait_initial`` seconds, double per attempt up to
    ``wait_max``, and each adds a random jitter of up to ``wait_initial``.
    """

    attempts: int = 3
    total_timeout: float = 30.0
    wait_initial: float = 0.1
    wait_max: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.total_timeout <= 0 or self.wait_initial < 0 or self.wait_max < self.wait_initial:
            raise ValueError("total_timeout must be positive and 0 <= wait_initial <= wait_max")

    async def call(self, attempt: Callable[[], Awaitable[T]], *, transient: Callable[[Exception], bool]) -> T:
        """``await attempt()`` until it returns, raises a non-``transient`` exception, or
        the attempts or the time run out (then the last exception propagates)."""
        caller = stamina.AsyncRetryingCaller(
            attempts=self.attempts,
            timeout=self.total_timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_initial,
        )
        return await caller(transient, attempt)
