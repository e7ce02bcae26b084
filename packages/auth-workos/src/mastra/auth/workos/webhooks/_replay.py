"""Event ids already processed, so a redelivered webhook is acknowledged but not re-run.

The signature check refuses deliveries older than 180 s, so an id has to be remembered
only a little longer than that window; entries live 15 minutes, at most 50 000 of them.
"""

from __future__ import annotations

import time
from collections import OrderedDict

__all__ = ["SeenEvents"]


class SeenEvents:
    def __init__(self, *, ttl: float = 900.0, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; ``False`` when it was already seen within the TTL."""
        now = time.monotonic()
        while self._seen:
            oldest, expires = next(iter(self._seen.items()))
            if expires > now:
                break
            del self._seen[oldest]
        if event_id in self._seen:
            return False
        self._seen[event_id] = now + self.ttl
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True
