"""``AuthCache``: successful authentications reused for a short TTL, one read per miss.

Revocation: the server clears the cache on every sign-out, session revoke, password
reset and role change it performs, so those take effect at once. Attached to the
deployment's shared state (:meth:`AuthCache.attach`, issue #14), a clear is also pushed
through the invalidation channel and every other process and node clears its cache on
receipt (the CLI publishes the same message after its changes); while the channel is
down the cache serves nothing (TTL 0) and it is cleared when the channel comes back, so
a missed message never leaves a stale session. Without a channel (one process), a
revocation made elsewhere is honoured within ``ttl`` seconds. ``ttl=0`` disables
caching (the registry is read per request).

Concurrent misses for one key share a single authentication (:meth:`pending` /
:meth:`begin` / :meth:`finish`): when an entry expires under load, the requests that
arrive meanwhile wait for the one registry read in flight instead of each reading the
registry. :meth:`clear` forgets the reads in flight too, and a read that started before
a :meth:`clear` is neither cached nor shared afterwards. A failed authentication is
never shared: each waiter then authenticates itself.

Not :class:`mastra.core.ee.cache.SingleFlightCache`: that one shares failures and hands
a load in flight during an invalidation to its waiters; here both must go through
their own check. The entries themselves live in the project's one
:class:`~mastra.core.ee.cache.TTLCache`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from starlette.requests import Request

from ..ee.cache import TTLCache
from ..ee.crypto import sha256_hex
from ..ee.shared import AUTH_CACHE_TOPIC
from ._authn import Caller

if TYPE_CHECKING:
    from ..ee.shared import SharedState

__all__ = ["AuthCache"]

_RAW_KEY_MAX = 1024


class AuthCache:
    def __init__(self, ttl: float = 0.0, max_entries: int = 10_000) -> None:
        self._entries: TTLCache[str, Caller] = TTLCache(ttl=ttl, max_size=max_entries)
        self._inflight: dict[str, asyncio.Future[Caller | None]] = {}
        self._generation = 0
        self._shared: SharedState | None = None
        self._publishing: set[asyncio.Task[None]] = set()

    def attach(self, shared: SharedState) -> None:
        """Clears go to every node through ``shared``'s channel, and come from them."""
        self._shared = shared
        shared.bus.subscribe(AUTH_CACHE_TOPIC, lambda _message: self._forget())
        shared.bus.on_state(lambda _connected: self._forget())

    @property
    def ttl(self) -> float:
        return self._entries.ttl or 0.0

    @ttl.setter
    def ttl(self, seconds: float) -> None:
        self._entries.ttl = seconds

    @property
    def enabled(self) -> bool:
        # A lost channel means missed revocations: serve nothing until it is back.
        return self.ttl > 0 and (self._shared is None or self._shared.connected)

    @staticmethod
    def key(request: Request, token: str | None, ip: str | None = None) -> str:
        """The entry of these credentials; ``ip`` for credentials whose answer depends on
        where the request comes from (API keys with an IP allow-list)."""
        raw = f"{token or ''}\x00{request.headers.get('cookie', '')}\x00{ip or ''}"
        # Usual credentials are their own key: hashing them cost more than the rest of a
        # cache hit. Longer ones are hashed, so junk cookies sent beside a valid session
        # cannot make an entry's key larger than this (a digest never holds a NUL, so it
        # never equals a raw key).
        return raw if len(raw) <= _RAW_KEY_MAX else sha256_hex(raw)

    @property
    def generation(self) -> int:
        """Bumped by :meth:`clear`; pass the value read before authenticating to :meth:`put`."""
        return self._generation

    def get(self, key: str) -> Caller | None:
        return self._entries.get(key) if self.enabled else None

    def entry(self, key: str) -> Caller | None:
        """:meth:`get` for a caller that has just checked :attr:`enabled`."""
        return self._entries.get(key)

    def shareable(self, caller: Caller) -> Caller | None:
        """The copy of a successful caller other requests may reuse (``None`` if none).

        Never one that has to set cookies; the copy drops ``request`` so a reuser keeps
        its own request headers.
        """
        if not self.enabled or caller.user is None or caller.headers:
            return None
        return replace(caller, request=None)

    def put(self, key: str, caller: Caller, generation: int | None = None) -> None:
        if not self.enabled or caller.headers:
            return  # never cache a response that has to set cookies
        if generation is not None and generation != self._generation:
            return  # a revocation happened while this was being authenticated
        self._entries.set(key, caller)

    def pending(self, key: str) -> asyncio.Future[Caller | None] | None:
        """The authentication in flight for ``key`` on this event loop, if any."""
        future = self._inflight.get(key)
        if future is None or future.done() or future.get_loop() is not asyncio.get_running_loop():
            return None
        return future

    def begin(self, key: str) -> asyncio.Future[Caller | None] | None:
        """Register this request as the one authenticating ``key`` (when caching)."""
        if not self.enabled:
            return None
        future: asyncio.Future[Caller | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        return future

    def finish(self, key: str, future: asyncio.Future[Caller | None], shared: Caller | None) -> None:
        """Hand ``shared`` (or ``None``: authenticate yourselves) to the waiters."""
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.done():
            future.set_result(shared)

    def clear(self) -> None:
        """Forget every entry here, and tell every other node to do the same."""
        self._forget()
        shared = self._shared
        if shared is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): nothing can be sent from here
            return
        task = loop.create_task(shared.publish(AUTH_CACHE_TOPIC))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    def _forget(self) -> None:
        self._generation += 1
        self._entries.clear()
        inflight, self._inflight = self._inflight, {}
        for future in inflight.values():
            if not future.done() and not future.get_loop().is_closed():
                future.get_loop().call_soon_threadsafe(_release, future)


def _release(future: asyncio.Future[Caller | None]) -> None:
    if not future.done():
        future.set_result(None)
