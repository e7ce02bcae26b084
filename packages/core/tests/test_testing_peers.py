"""The shared test infrastructure itself: a real PostgreSQL answers queries, ports stay ours."""

from __future__ import annotations

import socket

import pytest
from mastra.core.testing.servers import free_port
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.mark.postgres
async def test_postgres_fixture_serves_real_database(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    async with engine.connect() as conn:
        version = (await conn.execute(text("select version()"))).scalar_one()
    await engine.dispose()
    assert "PostgreSQL" in version


async def test_database_url_param_runs_on_both(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("select 1 + 1"))).scalar_one() == 2
    await engine.dispose()


def test_a_free_port_is_not_handed_to_anyone_else_before_its_server_binds() -> None:
    """CI failed with 'address already in use': free_port() released its port at once, and a
    Node peer's listen(0) or a client's outgoing connection took it before the app bound it.
    The chosen port stays reserved, yet a server (SO_REUSEADDR, as uvicorn, asyncio, Node,
    PostgreSQL and Redis all set) still listens on it."""
    chosen = {free_port() for _ in range(50)}
    for _ in range(5000):
        with socket.socket() as other:
            other.bind(("127.0.0.1", 0))
            assert other.getsockname()[1] not in chosen
    port = next(iter(chosen))
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:
            assert client.getsockname()[1] not in chosen
