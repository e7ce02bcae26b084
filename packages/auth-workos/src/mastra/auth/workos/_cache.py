"""A small async TTL + LRU cache whose concurrent misses share one load."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SingleFlightCache"]

V = TypeVar("V")


class SingleFlightCache(Generic[V]):
    """``get(key, load)``: a fresh cached value, or one shared ``load()`` per key.

    Failed loads are not cached (the next call retries). ``invalidate`` also makes a
    load that is in flight at that moment unable to store its (stale) result.
    """

    def __init__(self, *, ttl: float = 60.0, max_size: int = 1000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._values: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[V]] = {}
        self._generation: dict[str, int] = {}
        self._epoch = 0
        self.loads = 0  # observable by tests

    def __len__(self) -> int:
        return len(self._values)

    async def get(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        entry = self._values.get(key)
        if entry is not None:
            expires, value = entry
            if expires > time.monotonic():
                self._values.move_to_end(key)
                return value
            del self._values[key]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        generation = (self._epoch, self._generation.get(key, 0))
        try:
            self.loads += 1
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise, nobody warns
            raise
        else:
            future.set_result(value)
            if generation == (self._epoch, self._generation.get(key, 0)):
                self._values[key] = (time.monotonic() + self.ttl, value)
                self._values.move_to_end(key)
                while len(self._values) > self.max_size:
                    self._values.popitem(last=False)
            return value
        finally:
            self._inflight.pop(key, None)
            self._generation.pop(key, None)

    def invalidate(self, key: str | None = None) -> None:
        """Forget one key, or everything when ``key`` is ``None``."""
        if key is None:
            self._values.clear()
            self._epoch += 1
            return
        self._values.pop(key, None)
        if key in self._inflight:
            self._generation[key] = self._generation.get(key, 0) + 1
