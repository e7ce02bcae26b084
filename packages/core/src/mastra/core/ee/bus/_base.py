"""What every invalidation bus shares: the protocol, the wire format, handler dispatch,
the ``connected`` state and the reconnect loop with back-off.

A message is the JSON object ``{"node": <node id>, "topic": str, "data": {...}}``. The
publisher has already applied the change to its own caches, so a bus drops messages
carrying its own node id. Handlers are synchronous and must not block: they run on the
listener's task, in subscription order, and one raising is logged without stopping the
others or the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CHANNEL",
    "MAX_PAYLOAD_BYTES",
    "BusBase",
    "Handler",
    "InvalidationBus",
    "ListeningBus",
    "StateHandler",
    "new_node_id",
]

logger = logging.getLogger("mastra.ee.bus")

#: The one channel every node listens on (Redis: ``mastra:ee``).
CHANNEL = "mastra_ee"
#: PostgreSQL refuses NOTIFY payloads from 8,000 bytes; the margin keeps every backend
#: under the same limit, so a message that works on one works on all.
MAX_PAYLOAD_BYTES = 7000

#: Reconnect waits: 0.1 s doubling to 2 s, reset by a successful connection.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0
#: How often a listening connection is probed (``SELECT 1`` / ``PING``): a peer that
#: vanished without closing the socket is noticed within about a second.
PROBE_INTERVAL = 1.0

Handler = Callable[[dict[str, Any]], None]
StateHandler = Callable[[bool], None]


def new_node_id() -> str:
    return uuid.uuid4().hex[:12]


@runtime_checkable
class InvalidationBus(Protocol):
    """Tells every other node that cached auth state changed (issue #14).

    ``connected`` is False while the channel is down: messages may be missed then, so
    callers must not trust their caches (TTL 0) until it is True again, and clear them
    all when it comes back (``on_state(True)``)."""

    node_id: str

    @property
    def connected(self) -> bool: ...

    def subscribe(self, topic: str, handler: Handler) -> None: ...

    def on_state(self, handler: StateHandler) -> None: ...

    async def start(self) -> None: ...

    async def publish(self, topic: str, data: dict[str, Any] | None = None) -> None: ...

    async def close(self) -> None: ...


class BusBase:
    """Subscriptions, state changes, encoding and decoding of messages."""

    def __init__(self, *, node_id: str | None = None) -> None:
        self.node_id = node_id or new_node_id()
        self._handlers: dict[str, list[Handler]] = {}
        self._state_handlers: list[StateHandler] = []
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def on_state(self, handler: StateHandler) -> None:
        self._state_handlers.append(handler)

    def _set_connected(self, connected: bool) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        if not connected:
            logger.warning("Invalidation channel lost (%s): auth caches are bypassed", type(self).__name__)
        for handler in list(self._state_handlers):
            try:
                handler(connected)
            except Exception:
                logger.exception("Invalidation bus state handler failed")

    def _encode(self, topic: str, data: dict[str, Any] | None) -> str | None:
        """The wire message, or ``None`` (logged) when it cannot be sent."""
        try:
            message = {"node": self.node_id, "topic": topic, "data": data or {}}
            text = json.dumps(message, separators=(",", ":"))
        except (TypeError, ValueError):
            logger.exception("Invalidation message for %r is not JSON", topic)
            return None
        size = len(text.encode())
        if size > MAX_PAYLOAD_BYTES:
            logger.error(
                "Invalidation message for %r refused: %d bytes (limit %d)", topic, size, MAX_PAYLOAD_BYTES
            )
            return None
        return text

    def _deliver(self, raw: str | bytes) -> None:
        """Dispatch one received message (never raises: a bad message is dropped)."""
        try:
            message = json.loads(raw)
            node, topic, data = message["node"], message["topic"], message.get("data") or {}
        except (ValueError, TypeError, KeyError):
            logger.warning("Malformed invalidation message dropped")
            return
        self._dispatch(node, topic, data)

    def _dispatch(self, node: Any, topic: Any, data: Any) -> None:
        """Run ``topic``'s handlers, unless the message is our own or malformed."""
        if node == self.node_id or not isinstance(topic, str) or not isinstance(data, dict):
            return
        for handler in list(self._handlers.get(topic, ())):
            try:
                handler({"node": node, "topic": topic, "data": data})
            except Exception:
                logger.exception("Invalidation handler for %r failed", topic)


class ListeningBus(BusBase):
    """A bus with a background listener: connect, listen until the connection is lost,
    wait (0.1 s doubling to 2 s), reconnect. Subclasses implement :meth:`_listen`."""

    def __init__(self, *, node_id: str | None = None) -> None:
        super().__init__(node_id=node_id)
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()

    async def _listen(self, ready: Callable[[], None]) -> None:
        """Connect, call ``ready()`` once listening, return or raise when the connection
        is lost. Cancellation must release the connection."""
        raise NotImplementedError

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{type(self).__name__}-listener")
        await self._first_attempt.wait()

    def _ready(self) -> None:
        self._set_connected(True)
        self._first_attempt.set()

    async def _run(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            try:
                await self._listen(self._ready)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("Invalidation listener stopped: %r", exc)
            if self._connected:
                backoff = FIRST_BACKOFF
            self._set_connected(False)
            self._first_attempt.set()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _stop_listener(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected = False
