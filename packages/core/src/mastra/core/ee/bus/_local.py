"""The bus of a single process (SQLite, one worker, no Redis): today's behaviour."""

from __future__ import annotations

from typing import Any

from ._base import BusBase

__all__ = ["LocalBus"]


class LocalBus(BusBase):
    """Nothing to tell: the only process applied the change itself. Always connected,
    so caches keep their TTL."""

    def __init__(self, *, node_id: str | None = None) -> None:
        super().__init__(node_id=node_id)
        self._connected = True

    async def start(self) -> None:
        return None

    async def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        # Same refusal as the real backends: a payload too large fails in development too.
        self._encode(topic, data)

    async def close(self) -> None:
        return None
