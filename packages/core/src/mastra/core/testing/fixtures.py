"""Pytest fixtures shared by every package: ``pytest_plugins = ["mastra.core.testing.fixtures"]``."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .postgres import PostgresServer, find_pg_bin, start_postgres
from .redis import RedisServer, find_redis_server, start_redis


def require_peer(reason: str) -> None:
    """Skip a test whose real peer is missing; in CI (``CI`` set) fail instead."""
    # In CI nothing may be skipped: a missing peer is a failure there.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if find_pg_bin() is None:
        require_peer("PostgreSQL server binaries not installed")
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if find_redis_server() is None:
        require_peer("redis-server not installed")
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis server, emptied for this test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'mastra.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrised over SQLite and PostgreSQL: SQL code runs on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'mastra.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(autouse=True)
async def _dispose_engines() -> AsyncIterator[None]:
    # Engines are cached per URL; connections are bound to the test's event loop.
    yield
    from ..ee.db import dispose_engines

    await dispose_engines()


@pytest.fixture(autouse=True)
def _clean_license_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from ..ee.license import clear_license_cache

    for var in ("MASTRA_EE_LICENSE", "MASTRA_ENV", "MASTRA_DEV"):
        monkeypatch.delenv(var, raising=False)
    clear_license_cache()
    yield
    clear_license_cache()


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Development defaults are relative to the working directory (``./.mastra/secret``
    # written by ``serve`` and ``mount_ee``, the embedded SQLite file): a test must never
    # leave them in the checkout, nor read one an earlier run left there.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
