"""One pooled outbound client per provider (``mastra.core.ee.pool``): calls share
connections, ``aclose`` closes the client, and each event loop gets its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from mastra.core.ee.pool import PooledClient
from mastra.core.testing.servers import BackgroundServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


@pytest.fixture
def peer() -> Iterator[tuple[list[int], str]]:
    """A loopback server recording the client port (one per TCP connection) of each call."""
    ports: list[int] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        assert request.client is not None
        ports.append(request.client.port)
        return PlainTextResponse("ok")

    with BackgroundServer(Starlette(routes=[Route("/", endpoint)])) as server:
        yield ports, server.url


async def test_calls_reuse_one_client_and_connection(peer: tuple[list[int], str]) -> None:
    ports, url = peer
    pool = PooledClient(httpx.AsyncClient)
    for _ in range(20):
        assert (await pool.client().get(url)).text == "ok"
    assert pool.created == 1 and len(ports) == 20 and len(set(ports)) == 1
    client = pool.client()
    await pool.aclose()
    assert client.is_closed
    await pool.aclose()  # idempotent
    assert (await pool.client().get(url)).text == "ok"  # reopens on demand
    assert pool.created == 2 and len(set(ports)) == 2
    await pool.aclose()


async def test_concurrent_calls_share_the_pool(peer: tuple[list[int], str]) -> None:
    ports, url = peer
    pool = PooledClient(lambda: httpx.AsyncClient(limits=httpx.Limits(max_connections=2)))
    await asyncio.gather(*(pool.client().get(url) for _ in range(10)))
    assert pool.created == 1 and len(ports) == 10 and len(set(ports)) <= 2
    await pool.aclose()


def test_each_event_loop_gets_its_own_client(peer: tuple[list[int], str]) -> None:
    """A provider outlives event loops (tests, a CLI's second ``asyncio.run``): a client
    bound to a closed loop is never reused."""
    _, url = peer
    pool = PooledClient(httpx.AsyncClient)
    seen: list[httpx.AsyncClient] = []

    async def call() -> None:
        seen.append(pool.client())
        assert (await pool.client().get(url)).text == "ok"
        await pool.aclose()

    asyncio.run(call())
    asyncio.run(call())
    assert pool.created == 2 and seen[0] is not seen[1]
    assert all(client.is_closed for client in seen)


def test_client_outside_a_running_loop_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        PooledClient(httpx.AsyncClient).client()
