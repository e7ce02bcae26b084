"""Per-process rate-limit store (one worker on SQLite; ``storage = "memory"``)."""

from __future__ import annotations

import time
import uuid
from collections import deque

from ._limits import Limit, wait_seconds

__all__ = ["MemoryStore"]


class MemoryStore:
    """Per-process store. Nothing awaits between the check and the count, so on one
    event loop the pair is atomic without a lock."""

    SWEEP_EVERY = 1024

    def __init__(self) -> None:
        self._entries: dict[str, deque[tuple[float, str]]] = {}
        self._operations = 0

    def _live(self, key: str, seconds: int, now: float) -> deque[tuple[float, str]]:
        entries = self._entries.setdefault(key, deque())
        while entries and entries[0][0] <= now - seconds:
            entries.popleft()
        return entries

    async def acquire(self, key: str, limit: Limit) -> str | int:
        now = time.time()
        self._sweep(now, limit.seconds)
        entries = self._live(key, limit.seconds, now)
        if len(entries) >= limit.amount:
            # The window frees when the entry that makes it full ages out.
            return wait_seconds(entries[len(entries) - limit.amount][0], limit, now)
        entry = uuid.uuid4().hex
        entries.append((now, entry))
        return entry

    async def release(self, key: str, entry: str) -> None:
        entries = self._entries.get(key)
        if entries is None:
            return
        for item in entries:
            if item[1] == entry:
                entries.remove(item)
                break

    async def clear(self, key: str) -> None:
        self._entries.pop(key, None)

    def _sweep(self, now: float, seconds: int) -> None:
        # Keys of idle IPs and accounts would otherwise stay forever; windows are at
        # most hours, so dropping keys whose newest entry is a day old is safe.
        self._operations += 1
        if self._operations % self.SWEEP_EVERY:
            return
        horizon = now - max(seconds, 86_400)
        for key in [k for k, v in self._entries.items() if not v or v[-1][0] <= horizon]:
            del self._entries[key]
