"""One pooled outbound HTTP client per provider.

A provider keeps a :class:`PooledClient` and asks it for the client on every call, so
calls share keep-alive connections instead of opening a TCP (and TLS) connection each.
The client is created on first use and closed by the provider's ``aclose()``, which
the host calls at shutdown (``close_providers``).

A client's connections belong to the event loop they were opened on, and a provider
can outlive a loop (each test has its own; a CLI may call ``asyncio.run`` twice), so
there is one client per running loop. Clients of loops that have since closed are
dropped with them.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["PooledClient"]


class _Closable(Protocol):
    async def aclose(self) -> None: ...


C = TypeVar("C", bound=_Closable)


class PooledClient(Generic[C]):
    """``client()`` → the one ``factory()`` result of the running loop."""

    def __init__(self, factory: Callable[[], C]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = weakref.WeakKeyDictionary()
        self.created = 0  # observable by tests: how many clients were ever opened

    def client(self) -> C:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for other in [other for other in self._clients if other.is_closed()]:
                del self._clients[other]
            client = self._clients[loop] = self._factory()
            self.created += 1
        return client

    async def aclose(self) -> None:
        """Close the running loop's client; a loop still running elsewhere closes its own."""
        clients = list(self._clients.items())
        self._clients = weakref.WeakKeyDictionary()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, client in clients:
            if loop is current:
                await client.aclose()
            elif loop.is_running() and not loop.is_closed():
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)
