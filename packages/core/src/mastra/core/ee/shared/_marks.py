"""``SharedMarks``: keyed marks every process sees at once, read synchronously.

Hot paths (a sealed WorkOS cookie checked on every request) cannot query a store each
time, so each process keeps a local copy: a write goes to the local copy and the shared
store, then the invalidation channel tells every other process to *reload* the key's
namespace from the store. Messages carry no value on purpose: anyone able to send on
the channel (any role of the database can ``NOTIFY``) could otherwise lower or clear a
mark; a reload only ever reads what the store holds, and a mark never goes down (a
cutoff is the largest of the values seen, a revoked session stays revoked).

A process trusts its copy only while the channel is connected and the store has been
read once; otherwise (the channel down, or an app whose lifespan never started it)
:meth:`SharedMarks.ensure_current` reads the store before answering — slower, never
stale. Reloads triggered by messages are coalesced: at most one runs per namespace,
plus one more if messages arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..cache import TTLCache
from ._stores import MarkStore

__all__ = ["MARKS_TOPIC", "SharedMarks"]

logger = logging.getLogger("mastra.ee.shared")

MARKS_TOPIC = "marks"

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


class SharedMarks:
    def __init__(
        self,
        namespace: str,
        store: MarkStore,
        *,
        ttl: float,
        max_entries: int = 100_000,
        publish: Publish | None = None,
        trusted: Callable[[], bool] = lambda: True,
    ) -> None:
        self.namespace = namespace
        self.store = store
        self.ttl = ttl
        self._publish = publish
        self._trusted = trusted
        self._local: TTLCache[str, str] = TTLCache(ttl=ttl, max_size=max_entries, clock=time.time)
        self._loaded = False
        self._reloading: asyncio.Task[None] | None = None
        self._again = False

    def get(self, key: str) -> str | None:
        return self._local.get(key)

    def _raise(self, key: str, value: str, ttl: float | None = None) -> None:
        """Keep the larger of the known and the new value (marks never go down)."""
        current = self._local.get(key)
        if current is None or _larger(value, current):
            self._local.set(key, value, ttl=ttl)

    async def set(self, key: str, value: str = "1") -> bool:
        """Mark ``key`` here, in the store, and tell every other process to reload.
        ``False`` when the store could not be written (logged; the mark holds here)."""
        self._raise(key, value)
        try:
            await self.store.put(self.namespace, key, value, self.ttl)
        except Exception:
            logger.error("could not store shared mark %s/%s", self.namespace, key, exc_info=True)
            return False
        if self._publish is not None:
            await self._publish(MARKS_TOPIC, {"ns": self.namespace})
        return True

    async def ensure_current(self) -> None:
        """Read the store first unless the local copy can be trusted (see the module)."""
        if not (self._loaded and self._trusted()):
            await self.load()

    async def load(self) -> None:
        try:
            marks = await self.store.load(self.namespace)
        except Exception:
            logger.error("could not load shared marks %s", self.namespace, exc_info=True)
            return
        now = time.time()
        for key, (value, expires_at) in marks.items():
            self._raise(key, value, ttl=max(0.0, expires_at - now))
        self._loaded = True

    def reload_soon(self) -> None:
        """A message said the namespace changed: reload it (coalesced)."""
        if self._reloading is not None and not self._reloading.done():
            self._again = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._reloading = loop.create_task(self._reload_until_quiet())

    async def _reload_until_quiet(self) -> None:
        while True:
            self._again = False
            await self.load()
            if not self._again:
                return

    def forget_trust(self) -> None:
        """The channel was lost: messages may be missed until the store is read again."""
        self._loaded = False


def _larger(value: str, current: str) -> bool:
    # Cutoffs are epoch seconds: compare as numbers when both are; otherwise any value
    # replaces an older one only if it sorts higher (a revoked flag "1" stays "1").
    if value.isdigit() and current.isdigit():
        return int(value) > int(current)
    return value > current
