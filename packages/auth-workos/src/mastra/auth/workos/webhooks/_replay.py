"""Event ids already processed, so a redelivered webhook is acknowledged but not re-run.

The signature check refuses deliveries older than 180 s, so an id has to be remembered
only a little longer than that window; entries live 15 minutes. Attached to the
server's shared state (issue #14) the ids are recorded in the shared store, so a
redelivery reaching another node is recognised too; unattached, per process (at most
50 000 ids).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mastra.core.ee.cache import TTLCache

if TYPE_CHECKING:
    from mastra.core.ee.shared import SharedState

__all__ = ["CLAIM_TTL", "SeenEvents"]

#: How long an event id is held while its delivery is processed.
CLAIM_TTL = 60.0


class SeenEvents:
    def __init__(
        self, *, ttl: float = 900.0, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._seen: TTLCache[str, bool] = TTLCache(ttl=ttl, max_size=max_entries, clock=clock)
        self._shared: SharedState | None = None

    def attach(self, shared: SharedState) -> None:
        self._shared = shared

    async def first_time(self, event_id: str) -> bool:
        """Claim ``event_id`` for :data:`CLAIM_TTL` seconds; ``False`` when it was already
        seen (or is being processed). Raises when the shared store cannot be reached (the
        route answers 503 and WorkOS delivers again later)."""
        if self._shared is not None:
            return await self._shared.first_time("workos-webhooks", event_id, ttl=CLAIM_TTL)
        return self._seen.add(event_id, True)

    async def processed(self, event_id: str) -> None:
        """The event was handled: remember it for the whole TTL. Until then only the short
        claim holds, so a process that dies mid-way lets WorkOS's redelivery run it."""
        if self._shared is not None:
            await self._shared.keep("workos-webhooks", event_id, ttl=self.ttl)
