"""The one bounded cache of the project: TTL + LRU, and an async single-flight front.

Every in-process memory of the providers and the server (JWKS, memberships, replay
ids, revocations, pending logins, the auth cache) is one of these, so expiry and the
size bound are decided once: an entry older than its TTL is never returned, and the
least recently used entry goes first when the bound is reached.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Generic, TypeVar, overload

__all__ = ["SingleFlightCache", "TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

_NEVER = float("inf")


class TTLCache(Generic[K, V]):
    """A mapping-like cache: entries expire after ``ttl`` seconds (``None``: never) and
    the least recently used is evicted beyond ``max_size``. ``clock`` is injectable
    (tests; ``time.time`` where expiry must be wall-clock).

    Threads: reads need no lock (a key evicted meanwhile is simply a miss); callers that
    write from several threads hold one lock around their writes.
    """

    def __init__(
        self, *, ttl: float | None, max_size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.ttl = ttl
        self.max_size = max_size
        self.clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return self._live(key) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[K]:
        now = self.clock()
        return iter([k for k, (expires, _) in self._entries.items() if expires > now])

    def _live(self, key: K) -> tuple[float, V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        # No clock call for entries that never expire (the hot path of RBAC look-ups).
        if entry[0] != _NEVER and entry[0] <= self.clock():
            self._entries.pop(key, None)
            return None
        return entry

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        # ``_live`` inlined: this is the hot path of every cached look-up.
        entry = self._entries.get(key)
        if entry is None:
            return default
        if entry[0] != _NEVER and entry[0] <= self.clock():
            self._entries.pop(key, None)
            return default
        try:
            self._entries.move_to_end(key)
        except KeyError:  # evicted by another thread since the look-up: still a valid answer
            pass
        return entry[1]

    def set(self, key: K, value: V, *, ttl: float | None = None) -> None:
        """Store ``value``; ``ttl`` overrides the cache's TTL for this entry."""
        lifetime = self.ttl if ttl is None else ttl
        now = self.clock()
        expires = _NEVER if lifetime is None else now + lifetime
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        # Expired entries at the LRU end go now, so a cache that is written more than it
        # is read (replay ids, used states) stays near its live size, not its bound.
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest[0] > now:
                break
            self._entries.popitem(last=False)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def add(self, key: K, value: V, *, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` holds no live entry; ``False`` if it did
        (replay detection: the first caller wins)."""
        if self._live(key) is not None:
            return False
        self.set(key, value, ttl=ttl)
        return True

    def pop(self, key: K, default: V | None = None) -> V | None:
        entry = self._live(key)
        self._entries.pop(key, None)
        return default if entry is None else entry[1]

    def clear(self) -> None:
        self._entries.clear()


class SingleFlightCache(Generic[V]):
    """``await get(key, load)``: a fresh cached value, or one shared ``load()`` per key.

    Failed loads are not cached (the next call retries). :meth:`invalidate` also stops
    a load that is in flight at that moment from storing its (possibly stale) result.
    """

    def __init__(
        self, *, ttl: float = 60.0, max_size: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.values: TTLCache[str, V] = TTLCache(ttl=ttl, max_size=max_size, clock=clock)
        self._inflight: dict[str, asyncio.Future[V]] = {}
        self._generation: dict[str, int] = {}
        self._epoch = 0
        self.loads = 0  # observable by tests

    @property
    def ttl(self) -> float | None:
        return self.values.ttl

    @ttl.setter
    def ttl(self, seconds: float | None) -> None:
        self.values.ttl = seconds

    @property
    def max_size(self) -> int:
        return self.values.max_size

    @max_size.setter
    def max_size(self, size: int) -> None:
        self.values.max_size = size

    def __len__(self) -> int:
        return len(self.values)

    async def get(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        missing = object()
        cached = self.values.get(key, missing)
        if cached is not missing:
            return cached  # type: ignore[return-value]
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
                self.values.set(key, value)
            return value
        finally:
            self._inflight.pop(key, None)
            self._generation.pop(key, None)

    def invalidate(self, key: str | None = None) -> None:
        """Forget one key, or everything when ``key`` is ``None``."""
        if key is None:
            self.values.clear()
            self._epoch += 1
            return
        self.values.pop(key)
        if key in self._inflight:
            self._generation[key] = self._generation.get(key, 0) + 1
