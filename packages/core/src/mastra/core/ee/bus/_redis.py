"""Invalidation over Redis pub/sub on channel ``mastra:ee``.

The listener holds its own client and connection (a subscribed connection can run
nothing else) with redis-py's retries turned off, so a lost server surfaces at once
and the bus's own reconnect loop reports it (``connected`` False, ``on_state``).
A silent network is caught by a ``PING`` after every idle second: no answer within two
more seconds counts as a loss. Publishing goes through the shared client of
:func:`mastra.core.ee.redis.get_redis`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ..redis import _module, get_redis
from ._base import PROBE_INTERVAL, ListeningBus

__all__ = ["REDIS_CHANNEL", "RedisBus"]

logger = logging.getLogger("mastra.ee.bus")

REDIS_CHANNEL = "mastra:ee"
_TIMEOUT = 2.0


class RedisBus(ListeningBus):
    def __init__(self, redis_url: str, *, node_id: str | None = None) -> None:
        super().__init__(node_id=node_id)
        self._url = redis_url

    async def _listen(self, ready: Callable[[], None]) -> None:
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = _module().from_url(
            self._url, socket_connect_timeout=_TIMEOUT, retry=Retry(NoBackoff(), 0), health_check_interval=0
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(REDIS_CHANNEL)
            # Listening only once Redis confirmed: a message published after start()
            # returned must reach us.
            deadline = time.monotonic() + _TIMEOUT
            while True:
                message = await pubsub.get_message(timeout=_TIMEOUT)
                if message is not None and message["type"] == "subscribe":
                    break
                if time.monotonic() > deadline:
                    raise ConnectionError("no SUBSCRIBE confirmation from Redis")
            ready()
            await self._receive(pubsub)
        finally:
            try:
                await pubsub.aclose()
            finally:
                await client.aclose()

    async def _receive(self, pubsub: Any) -> None:
        ping_sent: float | None = None
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=PROBE_INTERVAL)
            if message is not None:
                ping_sent = None  # anything from the server proves the connection alive
                if message["type"] == "message":
                    self._deliver(message["data"])
                continue
            if ping_sent is None:
                await pubsub.ping()
                ping_sent = time.monotonic()
            elif time.monotonic() - ping_sent > _TIMEOUT:
                raise ConnectionError("no PONG from Redis")

    async def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        message = self._encode(topic, data)
        if message is None:
            return
        try:
            await asyncio.wait_for(get_redis(self._url).publish(REDIS_CHANNEL, message), _TIMEOUT * 2)
        except Exception as exc:
            logger.error("Invalidation message for %r not sent: %r", topic, exc)

    async def close(self) -> None:
        # The publishing client is shared (close_redis_clients at shutdown closes it).
        await self._stop_listener()
