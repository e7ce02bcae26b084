"""``SharedMarks``: keyed marks every process sees at once, read synchronously.

Hot paths (a sealed WorkOS cookie checked on every request) cannot await a store, so
each process keeps a local copy: a write goes to the local copy, the shared store and
the invalidation channel; other processes apply the pushed mark to their copy. A
process (re)loads the store when it starts and whenever the channel comes back, since
messages sent meanwhile were lost; while the channel is down it reloads every
``poll_interval`` seconds, so a mark made elsewhere is missed for at most that long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..cache import TTLCache
from ._stores import MarkStore

__all__ = ["MARKS_TOPIC", "SharedMarks"]

logger = logging.getLogger("mastra.ee.shared")

MARKS_TOPIC = "marks"


class SharedMarks:
    def __init__(
        self,
        namespace: str,
        store: MarkStore,
        *,
        ttl: float,
        max_entries: int = 100_000,
        publish: Any = None,
    ) -> None:
        self.namespace = namespace
        self.store = store
        self.ttl = ttl
        self._publish = publish  # async (topic, data) -> None, or None: nothing to tell
        self._local: TTLCache[str, str] = TTLCache(ttl=ttl, max_size=max_entries, clock=time.time)

    def get(self, key: str) -> str | None:
        return self._local.get(key)

    async def set(self, key: str, value: str = "1") -> None:
        """Mark ``key`` here, in the store and on every other process; never raises
        (a store failure is logged: the mark still holds in this process)."""
        self._local.set(key, value)
        try:
            await self.store.put(self.namespace, key, value, self.ttl)
        except Exception:
            logger.error("could not store shared mark %s/%s", self.namespace, key, exc_info=True)
        if self._publish is not None:
            await self._publish(MARKS_TOPIC, {"ns": self.namespace, "key": key, "value": value})

    def apply(self, data: dict[str, Any]) -> None:
        """A mark pushed by another process (the channel's handler)."""
        if data.get("ns") == self.namespace and isinstance(data.get("key"), str):
            self._local.set(str(data["key"]), str(data.get("value", "1")))

    async def load(self) -> None:
        try:
            marks = await self.store.load(self.namespace)
        except Exception:
            logger.error("could not load shared marks %s", self.namespace, exc_info=True)
            return
        now = time.time()
        for key, (value, expires_at) in marks.items():
            self._local.set(key, value, ttl=max(0.0, expires_at - now))

    async def poll(self, connected: Any, interval: float) -> None:
        """Reload every ``interval`` seconds while ``connected()`` is false."""
        while not connected():
            await self.load()
            await asyncio.sleep(interval)
