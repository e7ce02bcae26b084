"""Event ids already processed, so a redelivered webhook is acknowledged but not re-run.

The signature check refuses deliveries older than 180 s, so an id has to be remembered
only a little longer than that window; entries live 15 minutes, at most 50 000 of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mastra.core.ee.cache import TTLCache

__all__ = ["SeenEvents"]


class SeenEvents:
    def __init__(
        self, *, ttl: float = 900.0, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seen: TTLCache[str, bool] = TTLCache(ttl=ttl, max_size=max_entries, clock=clock)

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; ``False`` when it was already seen within the TTL."""
        return self._seen.add(event_id, True)
