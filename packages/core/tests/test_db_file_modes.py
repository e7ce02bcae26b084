"""S27: the database directory is 0700 and SQLite files 0600 on every path that opens
the database (the engine factory), whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastra.core.ee.db import dispose_engines, get_engine
from mastra.core.testing.reference import reference_app, reference_settings
from sqlalchemy import text

DEFAULT_URL = "sqlite+aiosqlite:///./.mastra/mastra.db"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh project directory under the usual umask (SQLite alone would create 0644)."""
    monkeypatch.chdir(tmp_path)
    previous = os.umask(0o022)
    try:
        yield tmp_path
    finally:
        os.umask(previous)


async def _write(url: str) -> None:
    async with get_engine(url).begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS t (a INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))


async def test_sqlite_database_file_is_created_0600_in_a_0700_directory(tmp_path: Path) -> None:
    engine = get_engine(DEFAULT_URL)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (a INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        # While the connection is open the WAL and shared-memory files exist: SQLite gives
        # them the database file's mode.
        db = tmp_path / ".mastra" / "mastra.db"
        sidecars = [p for p in (Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
        assert sidecars
        assert {p.name: mode(p) for p in sidecars} == {p.name: 0o600 for p in sidecars}
    assert mode(tmp_path / ".mastra") == 0o700
    assert mode(db) == 0o600


async def test_existing_project_directory_and_database_are_tightened(tmp_path: Path) -> None:
    """A project set up by an earlier version (``.mastra`` 0755, database 0644)."""
    directory = tmp_path / ".mastra"
    directory.mkdir(mode=0o755)
    with sqlite3.connect(directory / "mastra.db") as conn:
        conn.execute("CREATE TABLE old (a INTEGER)")
    conn.close()
    assert (mode(directory), mode(directory / "mastra.db")) == (0o755, 0o644)
    await _write(DEFAULT_URL)
    assert (mode(directory), mode(directory / "mastra.db")) == (0o700, 0o600)


async def test_a_directory_the_project_did_not_create_keeps_its_mode(tmp_path: Path) -> None:
    """Only ``.mastra`` and directories created here are made private: a shared data
    directory chosen in ``database_url`` is the operator's to set."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    await _write(f"sqlite+aiosqlite:///{shared / 'app.db'}")
    await _write(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'deeper' / 'app.db'}")
    assert mode(shared) == 0o755 and mode(shared / "app.db") == 0o600
    assert mode(tmp_path / "new" / "deeper") == 0o700
    assert mode(tmp_path / "new" / "deeper" / "app.db") == 0o600


async def test_in_memory_sqlite_creates_no_file(tmp_path: Path) -> None:
    await _write("sqlite+aiosqlite:///:memory:")
    await _write("sqlite+aiosqlite://")
    assert list(tmp_path.iterdir()) == []


def _mount_on_host(settings: Any) -> Any:
    from mastra.core.ee.plugins import PluginRegistry, build_auth
    from mastra.core.server import mount_ee
    from mastra.core.testing.reference import reference_plugin
    from starlette.applications import Starlette

    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(reference_plugin(), "reference")
    host = Starlette()
    mount_ee(host, settings=settings, auth=build_auth(settings, registry), registry=registry)
    return host


@pytest.mark.parametrize("build", [reference_app, _mount_on_host], ids=["create_app", "mount_ee"])
async def test_app_first_request_leaves_directory_0700_and_database_0600(tmp_path: Path, build: Any) -> None:
    app = build(reference_settings(DEFAULT_URL))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        r = await client.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": "correct horse battery"},
            headers={"origin": "http://localhost"},
        )
    assert r.status_code == 201, r.text
    await dispose_engines()
    assert mode(tmp_path / ".mastra") == 0o700
    assert mode(tmp_path / ".mastra" / "mastra.db") == 0o600
