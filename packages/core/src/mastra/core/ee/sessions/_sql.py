"""SQL session registry: table ``mastra_sessions`` on the project database (SPEC 8.1).

Every validation reads the row, so a revocation written by one process is seen by
every other process on the next request (no cache to go stale). Timestamps are
stored as UTC; SQLite hands them back naive, so they are re-tagged on read.

On a SQLite file, that per-request read (``find_by_token_hash``) is one indexed
``SELECT`` on a plain ``sqlite3`` connection, run on the event loop itself: in WAL mode
a reader never waits for a writer, and the lookup (tens of microseconds, measured for
issue #14) costs less than handing it to a thread and back. Should SQLite still answer
"busy" (a checkpoint or recovery in progress: the inline connection never waits), or
another thread be using that connection, the lookup goes to a dedicated thread whose
connection waits like every other one (``busy_timeout``). Both connections run in
autocommit and read every row to the end, so no read snapshot outlives the statement
and a revocation committed by any connection is seen by the next lookup. Writes, and
every other database, use the shared async engine.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..db import create_tables, get_engine, own_sqlite_file
from ._registry import MAX_IP_LENGTH, MAX_USER_AGENT_LENGTH, SessionRecord, SessionRegistry, clip

__all__ = ["SESSIONS_TABLE", "SQLSessionRegistry"]

_metadata = MetaData()

SESSIONS_TABLE = Table(
    "mastra_sessions",
    _metadata,
    Column("handle", String(32), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ip", String(MAX_IP_LENGTH), nullable=True),
    Column("user_agent", String(MAX_USER_AGENT_LENGTH), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_mastra_sessions_user_id", "user_id"),
)

_t = SESSIONS_TABLE.c


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _record(row: Any) -> SessionRecord:
    return SessionRecord(
        handle=row.handle,
        token_hash=row.token_hash,
        user_id=row.user_id,
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
        last_seen_at=_utc(row.last_seen_at),  # type: ignore[arg-type]
        expires_at=_utc(row.expires_at),  # type: ignore[arg-type]
        ip=row.ip,
        user_agent=row.user_agent,
        revoked_at=_utc(row.revoked_at),
        metadata={},
    )


_FIND_SQL = (
    "SELECT handle, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent, "
    "revoked_at FROM mastra_sessions WHERE token_hash = ?"
)
_DATETIME_COLUMNS = ("created_at", "last_seen_at", "expires_at", "revoked_at")


class _SQLiteReader:
    """``find_by_token_hash`` on a SQLite file: inline, or on one thread when busy."""

    def __init__(self, path: str, engine: AsyncEngine) -> None:
        self.path = path
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mastra-sessions")
        self._conn: sqlite3.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._inline_lock = threading.Lock()  # event loops of other threads take the hop
        # The engine's own DateTime conversion, so rows read here equal rows read there.
        self._convert: list[Callable[[Any], Any] | None] = []
        for name in _DATETIME_COLUMNS:
            impl = SESSIONS_TABLE.c[name].type.dialect_impl(engine.dialect)
            self._convert.append(impl.result_processor(engine.dialect, None))

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        return conn

    def _find(self, token_hash: str) -> tuple[Any, ...] | None:
        conn = self._conn
        if conn is None:
            conn = self._conn = self._connect(10_000)
        return _select(conn, token_hash)

    def _find_inline(self, token_hash: str) -> tuple[Any, ...] | _Busy | None:
        if not self._inline_lock.acquire(blocking=False):
            return _BUSY
        try:
            conn = self._inline
            if conn is None:
                conn = self._inline = self._connect(0)
            return _select(conn, token_hash)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in _BUSY_CODES:  # extended codes: BUSY_SNAPSHOT…
                raise
            return _BUSY
        finally:
            self._inline_lock.release()

    async def find(self, token_hash: str) -> SessionRecord | None:
        found = self._find_inline(token_hash)
        if isinstance(found, _Busy):
            loop = asyncio.get_running_loop()
            row = await loop.run_in_executor(self._executor, self._find, token_hash)
        else:
            row = found
        if row is None:
            return None
        handle, hash_, user_id, *times = row[:6]
        ip, user_agent, revoked_at = row[6], row[7], row[8]
        values = [*times, revoked_at]
        converted = [
            conv(value) if conv is not None and value is not None else value
            for conv, value in zip(self._convert, values, strict=True)
        ]
        return SessionRecord(
            handle=handle,
            token_hash=hash_,
            user_id=user_id,
            created_at=_utc(converted[0]),  # type: ignore[arg-type]
            last_seen_at=_utc(converted[1]),  # type: ignore[arg-type]
            expires_at=_utc(converted[2]),  # type: ignore[arg-type]
            ip=ip,
            user_agent=user_agent,
            revoked_at=_utc(converted[3]),
            metadata={},
        )

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._executor.submit(conn.close)
        self._executor.shutdown(wait=False)
        with self._inline_lock:
            inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()


class _Busy:
    """The inline lookup could not run now (SQLite busy, or the connection in use)."""


_BUSY = _Busy()
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _select(conn: sqlite3.Connection, token_hash: str) -> tuple[Any, ...] | None:
    rows = conn.execute(_FIND_SQL, (token_hash,)).fetchall()  # to the end: no open snapshot
    return tuple(rows[0]) if rows else None


def _live(user_id: str, now: datetime, idle_cutoff: datetime) -> Any:
    return and_(
        _t.user_id == user_id,
        _t.revoked_at.is_(None),
        _t.expires_at >= now,
        _t.last_seen_at >= idle_cutoff,
    )


class SQLSessionRegistry(SessionRegistry):
    """Registry rows in ``mastra_sessions``; the table is created on first use."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._reader: _SQLiteReader | None = None

    def __repr__(self) -> str:
        # The URL may carry a password: show only the backend.
        return f"SQLSessionRegistry({self.database_url.split(':', 1)[0]})"

    async def _engine(self) -> AsyncEngine:
        engine = get_engine(self.database_url)
        await create_tables(engine, _metadata)
        return engine

    async def insert(self, record: SessionRecord) -> None:
        engine = await self._engine()
        async with engine.begin() as conn:
            await conn.execute(
                SESSIONS_TABLE.insert().values(
                    handle=record.handle,
                    token_hash=record.token_hash,
                    user_id=record.user_id,
                    created_at=record.created_at,
                    last_seen_at=record.last_seen_at,
                    expires_at=record.expires_at,
                    ip=clip(record.ip, MAX_IP_LENGTH),
                    user_agent=clip(record.user_agent, MAX_USER_AGENT_LENGTH),
                    revoked_at=None,
                )
            )

    def _sqlite_reader(self, engine: AsyncEngine) -> _SQLiteReader | None:
        reader = self._reader
        if reader is None or reader.engine is not engine:  # engines were disposed and recreated
            if reader is not None:
                reader.close()
            path = own_sqlite_file(self.database_url)
            if path is None:
                return None
            reader = self._reader = _SQLiteReader(str(path), engine)
        return reader

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    async def find_by_token_hash(self, token_hash: str) -> SessionRecord | None:
        engine = await self._engine()
        reader = self._sqlite_reader(engine)
        if reader is not None:
            return await reader.find(token_hash)
        async with engine.connect() as conn:
            row = (await conn.execute(select(SESSIONS_TABLE).where(_t.token_hash == token_hash))).first()
        return _record(row) if row is not None else None

    async def touch(self, handle: str, when: datetime) -> None:
        engine = await self._engine()
        async with engine.begin() as conn:
            await conn.execute(
                update(SESSIONS_TABLE)
                .where(_t.handle == handle, _t.revoked_at.is_(None))
                .values(last_seen_at=when)
            )

    async def revoke_by_token_hash(self, token_hash: str, when: datetime) -> None:
        engine = await self._engine()
        async with engine.begin() as conn:
            await conn.execute(
                update(SESSIONS_TABLE)
                .where(_t.token_hash == token_hash, _t.revoked_at.is_(None))
                .values(revoked_at=when)
            )

    async def revoke_handle(self, user_id: str, handle: str, now: datetime, idle_cutoff: datetime) -> bool:
        engine = await self._engine()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(SESSIONS_TABLE)
                .where(_t.handle == handle, _live(user_id, now, idle_cutoff))
                .values(revoked_at=now)
            )
        return bool(result.rowcount)

    async def revoke_user(
        self, user_id: str, now: datetime, idle_cutoff: datetime, except_handle: str | None = None
    ) -> int:
        condition = _live(user_id, now, idle_cutoff)
        if except_handle is not None:
            condition = and_(condition, _t.handle != except_handle)
        engine = await self._engine()
        async with engine.begin() as conn:
            result = await conn.execute(update(SESSIONS_TABLE).where(condition).values(revoked_at=now))
        return int(result.rowcount or 0)

    async def list_live(self, user_id: str, now: datetime, idle_cutoff: datetime) -> list[SessionRecord]:
        engine = await self._engine()
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(SESSIONS_TABLE)
                .where(_live(user_id, now, idle_cutoff))
                .order_by(_t.last_seen_at.desc(), _t.created_at.desc(), _t.handle)
            )
            return [_record(row) for row in rows]

    async def purge(self, now: datetime, idle_cutoff: datetime, revoked_before: datetime) -> int:
        engine = await self._engine()
        async with engine.begin() as conn:
            result = await conn.execute(
                delete(SESSIONS_TABLE).where(
                    or_(
                        _t.revoked_at <= revoked_before,
                        _t.expires_at < now,
                        _t.last_seen_at < idle_cutoff,
                    )
                )
            )
        return int(result.rowcount or 0)
