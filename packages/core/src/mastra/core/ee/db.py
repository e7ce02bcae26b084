"""One async SQLAlchemy engine per database URL, shared by every SQL-backed part
(session registry, audit storage, SSO state store, rate limits, embedded Better Auth).

SQLite gets WAL and a busy timeout so several server processes can share a file.
Its directory is created 0700 and its files 0600 (S27) before SQLite opens them: SQLite
itself would create the database 0644 under a usual umask, and its WAL, shared-memory
and journal files copy the database file's mode.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
import stat
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .errors import ConfigurationError

__all__ = [
    "SQLITE_PRAGMAS",
    "create_tables",
    "dispose_engines",
    "get_engine",
    "is_database_outage",
    "is_postgres",
    "is_sqlite",
    "lock_schema",
    "own_sqlite_file",
    "private_directory",
    "take_write_lock",
]

logger = logging.getLogger("mastra.ee.db")

# The project's own state directory (default database, generated secret).
_PROJECT_DIR = ".mastra"
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means a store could not answer — the database (down, restarting,
    out of connections, unreachable) or Redis — so callers answer 503, never "not signed
    in", rather than that it refused a query (a constraint, a bad statement, a missing
    table: a bug, not an outage)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = _sqlstate(exc.orig)
        if state is not None:
            return state.startswith(_OUTAGE_SQLSTATES)
        if isinstance(exc, OperationalError) and type(exc.orig).__module__.startswith("sqlite3"):
            return _is_sqlite_outage(exc.orig)
        return isinstance(exc, OperationalError | InterfaceError)
    if isinstance(exc, sqlite3.OperationalError):  # the audit writer's own SQLite thread
        return _is_sqlite_outage(exc)
    state = _sqlstate(exc)  # asyncpg's connect-time errors reach callers unwrapped
    if state is not None:
        return state.startswith(_OUTAGE_SQLSTATES)
    if isinstance(exc, OSError | TimeoutError | PoolTimeout):
        return True
    return _is_redis_outage(exc)


#: SQLSTATE classes of an unavailable server: connection exceptions, insufficient
#: resources ("too many clients"), operator intervention (shutdown, starting up).
_OUTAGE_SQLSTATES = ("08", "53", "57P")
#: SQLite's OperationalError covers bugs too ("no such table"); these are outages.
_SQLITE_OUTAGES = ("locked", "busy", "disk i/o", "unable to open", "readonly")


def _is_sqlite_outage(error: object) -> bool:
    message = str(error).lower()
    return any(word in message for word in _SQLITE_OUTAGES)


def _sqlstate(error: BaseException | None) -> str | None:
    for candidate in (error, getattr(error, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str) and state:
            return state
    return None


def _is_redis_outage(exc: BaseException) -> bool:
    if not type(exc).__module__.startswith("redis"):
        return False
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    return isinstance(exc, RedisConnectionError | RedisTimeout)


_engines: dict[str, AsyncEngine] = {}
_own_files: dict[str, Path] = {}  # see ``own_sqlite_file``
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


#: Every SQLite connection of the project runs these (the pool's, and the audit writer's own).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_file(parsed: Any) -> Path | None:
    """The absolute path of the SQLite database file the parsed URL names, or ``None``
    for another engine, an in-memory database or a ``file:`` URI."""
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    # Absolute now, as the SQLite dialect makes it when the engine is created.
    return Path(os.path.abspath(database))


def own_sqlite_file(url: str) -> Path | None:
    """The file of the SQLite database ``url`` names, resolved when its engine was
    created (a relative path against the working directory of that moment, so the
    engine and this agree), when the project may open its own ``sqlite3``
    connections beside the engine (session lookups, audit appends): a plain
    ``sqlite+aiosqlite`` file URL, without query options those connections could not
    honour. ``None`` otherwise."""
    get_engine(url)
    return _own_files.get(url)


def _restrict(path: Path) -> None:
    """Take group and other access away from an existing ``path``; never adds any."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077:
        try:
            os.chmod(path, current & ~0o077)
        except PermissionError:  # not ours: say so, the operator decides
            logger.warning("Cannot restrict the permissions of %s (mode %o)", path, current)


def private_directory(directory: Path, *, tighten_existing: bool) -> None:
    """Create ``directory`` and any missing parents with mode 0700. With
    ``tighten_existing``, an existing ``directory`` loses group and other access."""
    if directory.is_dir():
        if tighten_existing:
            _restrict(directory)
        return
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # another process made it first; its creator set the mode
            continue
        os.chmod(path, 0o700)  # mkdir's mode passes through the umask, which may be odd


def _prepare_sqlite_file(database: Path) -> None:
    """Runs before every new SQLite connection, so a database deleted while the process
    runs is recreated private too."""
    # The project's own .mastra is tightened (earlier versions left it 0755); any other
    # existing directory named in database_url is the operator's to set.
    private_directory(database.parent, tighten_existing=database.parent.name == _PROJECT_DIR)
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for path in (database, *(Path(f"{database}{suffix}") for suffix in _SQLITE_SIDECARS)):
            _restrict(path)
        return
    # Exact bits whatever the umask. SQLite takes the empty file as a new database.
    os.chmod(database, 0o600)


#: Seconds asyncpg waits to open a PostgreSQL connection, and for one statement.
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0


def _url_connect_args(parsed: Any) -> dict[str, Any]:
    """``?timeout=`` / ``?command_timeout=`` in the URL win over the defaults."""
    return {key: float(parsed.query[key]) for key in ("timeout", "command_timeout") if key in parsed.query}


#: Database drivers installed by an extra of mastra-core.
_DRIVER_EXTRAS = {"asyncpg": "postgres"}


def _missing_driver(drivername: str, module: str) -> str:
    extra = _DRIVER_EXTRAS.get(module.partition(".")[0])
    install = f"pip install 'mastra-core[{extra}]'" if extra else f"pip install {module}"
    return f"the database URL ({drivername}) needs the {module} driver, which is not installed: {install}"


def get_engine(url: str) -> AsyncEngine:
    """The process-wide engine for ``url`` (created on first use)."""
    engine = _engines.get(url)
    if engine is not None:
        return engine
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    kwargs: dict[str, Any] = {}
    if not sqlite:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
        if parsed.get_driver_name() == "asyncpg":
            # Fail fast during an outage (requests answer 503 within seconds, not after
            # the OS's TCP timeout); pre-ping replaces the connections a restart broke.
            kwargs["connect_args"] = {
                "timeout": CONNECT_TIMEOUT,
                "command_timeout": COMMAND_TIMEOUT,
                **_url_connect_args(parsed),
            }
    try:
        engine = create_async_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        # SQLAlchemy imports the driver here; asyncpg is an extra (SQLite users skip it).
        raise ConfigurationError(_missing_driver(parsed.drivername, exc.name or str(exc))) from None
    if sqlite:
        path = _sqlite_file(parsed)
        if path is not None:
            event.listen(engine.sync_engine, "do_connect", lambda *_: _prepare_sqlite_file(path))
            if parsed.get_driver_name() == "aiosqlite" and not parsed.query:
                _own_files[url] = path
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
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                await _create_missing(engine, metadata)
                break
            except OperationalError as exc:
                # Processes opening a fresh SQLite file together can meet "database is
                # locked" outside any busy wait (seen once in CI): a short retry.
                if attempt == _CREATE_ATTEMPTS or not (is_sqlite(engine) and is_database_outage(exc)):
                    raise
                await asyncio.sleep(0.05 * attempt)
        _created.add(key)


_CREATE_ATTEMPTS = 4


async def _create_missing(engine: AsyncEngine, metadata: MetaData) -> None:
    async with engine.connect() as conn:
        missing = await conn.run_sync(_missing_tables, metadata)
    if missing:  # only then the lock: on an existing database no write lock is taken
        async with engine.connect() as conn:
            await lock_schema(conn)
            await conn.run_sync(metadata.create_all, checkfirst=True)
            await conn.commit()


def _missing_tables(sync_conn: Any, metadata: MetaData) -> list[str]:
    present = set(inspect(sync_conn).get_table_names())
    return [table.name for table in metadata.sorted_tables if table.name not in present]


# A stable 63-bit key for the PostgreSQL advisory lock guarding schema changes.
_PG_SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"mastra_schema").digest()[:8], "big") >> 1


async def take_write_lock(conn: AsyncConnection, pg_key: int) -> None:
    """A lock shared with every other process and node, held until the transaction on
    ``conn`` (a fresh connection) ends: ``BEGIN IMMEDIATE`` on SQLite (pysqlite begins
    lazily; this takes the database's write lock now), the transaction-scoped advisory
    lock ``pg_key`` on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": pg_key})


async def lock_schema(conn: AsyncConnection) -> None:
    """Serialise schema changes with every other process and node for the rest of the
    transaction on ``conn`` (SQLite's DDL is transactional too). Without it, workers
    starting together on a fresh database both saw a table missing and the second
    ``CREATE TABLE`` failed ("already exists"; on PostgreSQL a duplicate ``pg_type``
    row), failing a request."""
    await take_write_lock(conn, _PG_SCHEMA_LOCK)


async def dispose_engines() -> None:
    for engine in list(_engines.values()):
        await engine.dispose()
    _engines.clear()
    _own_files.clear()
    _created.clear()
