"""One async SQLAlchemy engine per database URL, shared by every SQL-backed part
(session registry, audit storage, SSO state store, rate limits, embedded Better Auth).

SQLite gets WAL and a busy timeout so several server processes can share a file.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["create_tables", "dispose_engines", "get_engine", "is_postgres", "is_sqlite"]

_engines: dict[str, AsyncEngine] = {}
_created: set[tuple[str, int]] = set()
# One lock per event loop: an asyncio.Lock binds to the first loop that waits on it,
# and tests (and threaded servers) run several loops in one process.
_create_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _create_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _create_locks.get(loop)
    if lock is None:
        lock = _create_locks[loop] = asyncio.Lock()
    return lock


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str) -> AsyncEngine:
    """The process-wide engine for ``url`` (created on first use)."""
    engine = _engines.get(url)
    if engine is not None:
        return engine
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    _engines[url] = engine
    return engine


async def create_tables(engine: AsyncEngine, metadata: MetaData) -> None:
    """``CREATE TABLE IF NOT EXISTS`` for ``metadata``, once per engine and metadata."""
    key = (str(engine.url), id(metadata))
    if key in _created:
        return
    async with _create_lock():
        if key in _created:
            return
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all, checkfirst=True)
        _created.add(key)


async def dispose_engines() -> None:
    for engine in list(_engines.values()):
        await engine.dispose()
    _engines.clear()
    _created.clear()
