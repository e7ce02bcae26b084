"""``SharedState``: what a provider gets to share state across processes and nodes.

The core owns the backends (the project database or Redis, and the invalidation
channel); a provider that keeps security state in memory (revocations, replay ids)
implements :class:`~mastra.core.ee.interfaces.SupportsSharedState` and receives one
of these when the server starts, then asks for namespaced pieces:

* :meth:`SharedState.marks` — keyed marks read synchronously on hot paths;
* :meth:`SharedState.first_time` — single-use ids (webhook replay protection);
* :attr:`SharedState.bus` — the channel itself, to subscribe to ``auth-cache``
  invalidations or to publish its own topics.

A provider that is never attached (standalone use, unit tests) keeps its per-process
behaviour.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..redis import redis_url_of
from ._marks import MARKS_TOPIC, SharedMarks
from ._stores import MarkStore, RedisMarkStore, SQLMarkStore

if TYPE_CHECKING:
    from ..bus import InvalidationBus
    from ..settings import Settings

__all__ = ["AUTH_CACHE_TOPIC", "SharedState", "open_shared_state"]

logger = logging.getLogger("mastra.ee.shared")

#: Published after any change that can make a cached authentication wrong (sign-out,
#: session revoke, user disable, role change, password reset, key revoke).
AUTH_CACHE_TOPIC = "auth-cache"


class SharedState:
    def __init__(self, bus: InvalidationBus, store: MarkStore) -> None:
        self.bus = bus
        self.store = store
        self._marks: dict[str, SharedMarks] = {}
        self._started = False
        bus.subscribe(MARKS_TOPIC, self._on_mark)
        bus.on_state(self._on_state)

    @property
    def started(self) -> bool:
        return self._started

    @property
    def connected(self) -> bool:
        """False while the channel is down: caches must not be trusted then."""
        return self.bus.connected

    def marks(self, namespace: str, *, ttl: float, max_entries: int = 100_000) -> SharedMarks:
        """The marks of ``namespace`` (one object per namespace)."""
        existing = self._marks.get(namespace)
        if existing is None:
            existing = self._marks[namespace] = SharedMarks(
                namespace,
                self.store,
                ttl=ttl,
                max_entries=max_entries,
                publish=self.publish,
                trusted=lambda: self._started and self.bus.connected,
            )
        return existing

    async def first_time(self, namespace: str, key: str, *, ttl: float) -> bool:
        """``key`` recorded for ``ttl`` seconds by every process; ``False`` if it already was.
        Raises when the store is unreachable (the caller decides: refuse, 503)."""
        return bool(await self.store.first_time(namespace, key, ttl))

    async def keep(self, namespace: str, key: str, *, ttl: float) -> None:
        """Extend a :meth:`first_time` record to ``ttl`` seconds from now: a short claim
        taken before work that must not be lost made final once the work is done."""
        await self.store.keep(namespace, key, ttl)

    async def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        """Tell the other processes; nothing before :meth:`start` (an app whose lifespan
        never ran holds no channel connection to leak)."""
        if self._started:
            await self.bus.publish(topic, data)

    async def start(self) -> None:
        if self._started:
            return
        await self.bus.start()
        self._started = True
        await asyncio.gather(*(marks.load() for marks in self._marks.values()))

    async def close(self) -> None:
        self._started = False
        await self.bus.close()

    def _on_mark(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        marks = self._marks.get(str(data.get("ns"))) if isinstance(data, dict) else None
        if marks is not None:
            marks.reload_soon()

    def _on_state(self, connected: bool) -> None:
        for marks in self._marks.values():
            # Lost: every read goes to the store until the copy was reloaded on a live
            # channel. Back: messages were missed meanwhile, so reload now.
            marks.forget_trust()
            if connected:
                marks.reload_soon()


def open_shared_state(settings: Settings) -> SharedState:
    """Redis when ``MASTRA_REDIS_URL`` is set, else the project database."""
    from ..bus import open_bus

    redis_url = redis_url_of(settings)
    store: MarkStore = RedisMarkStore(redis_url) if redis_url else SQLMarkStore(settings.database_url)
    return SharedState(open_bus(settings), store)
