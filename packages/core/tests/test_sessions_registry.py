"""The SQL session registry (SPEC 8.1, S2, S5): schema, hashing, throttled writes,
and revocation seen across provider instances and across processes."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap

import pytest
from mastra.core.ee.crypto import sha256_hex
from mastra.core.ee.db import get_engine
from mastra.core.ee.sessions import (
    SESSIONS_TABLE,
    CookieSessionProvider,
    MemorySessionProvider,
    SQLSessionRegistry,
)
from mastra.core.testing.sessions import FakeClock
from sqlalchemy import inspect, select, text

SECRET = "registry-test-secret-0123456789-abcdefghi"


def cookie_provider(url: str, clock: FakeClock | None = None) -> CookieSessionProvider:
    return CookieSessionProvider(secret=SECRET, registry=SQLSessionRegistry(url), clock=clock)


async def rows(url: str) -> list[dict[str, object]]:
    async with get_engine(url).connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(SESSIONS_TABLE))]


async def test_schema(database_url: str) -> None:
    p = cookie_provider(database_url)
    await p.create_session("u1")

    def describe(sync_conn: object) -> tuple[list[str], list[str], list[list[str]], list[list[str]]]:
        inspector = inspect(sync_conn)
        columns = [c["name"] for c in inspector.get_columns("mastra_sessions")]
        pk = inspector.get_pk_constraint("mastra_sessions")["constrained_columns"]
        uniques = [u["column_names"] for u in inspector.get_unique_constraints("mastra_sessions")]
        uniques += [i["column_names"] for i in inspector.get_indexes("mastra_sessions") if i["unique"]]
        indexes = [i["column_names"] for i in inspector.get_indexes("mastra_sessions")]
        return columns, pk, uniques, indexes

    async with get_engine(database_url).connect() as conn:
        columns, pk, uniques, indexes = await conn.run_sync(describe)
    assert columns == [
        "handle",
        "token_hash",
        "user_id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "ip",
        "user_agent",
        "revoked_at",
    ]
    assert pk == ["handle"]
    assert ["token_hash"] in uniques
    assert ["user_id"] in indexes


async def test_secret_is_never_stored(database_url: str) -> None:
    p = cookie_provider(database_url)
    session = await p.create_session("u1", {"ip": "203.0.113.9", "userAgent": "UA/1"})
    payload = p.unseal(session.id)
    assert payload is not None
    (row,) = await rows(database_url)
    dump = json.dumps(row, default=str)
    assert payload.sid not in dump and session.id not in dump
    assert row["token_hash"] == sha256_hex(payload.sid)
    assert row["handle"] == session.handle and len(row["handle"]) == 32  # type: ignore[arg-type]
    assert (row["ip"], row["user_agent"], row["revoked_at"]) == ("203.0.113.9", "UA/1", None)
    assert row["expires_at"] is not None


async def test_hostile_metadata_is_clipped(database_url: str) -> None:
    p = cookie_provider(database_url)
    session = await p.create_session("u1", {"ip": "1" * 300, "userAgent": "U" * 5000})
    assert await p.validate_session(session.id) is not None
    (row,) = await rows(database_url)
    assert len(row["ip"]) == 64 and len(row["user_agent"]) == 512  # type: ignore[arg-type]


async def test_last_seen_written_at_most_once_a_minute(database_url: str) -> None:
    clock = FakeClock()
    p = cookie_provider(database_url, clock)
    session = await p.create_session("u1")
    created = (await rows(database_url))[0]["last_seen_at"]
    clock.advance(59)
    refreshed = await p.refresh_session(session.id)
    assert refreshed is not None
    assert (await rows(database_url))[0]["last_seen_at"] == created
    clock.advance(2)
    refreshed = await p.refresh_session(refreshed.id)
    assert refreshed is not None and refreshed.last_seen_at == clock()
    assert (await rows(database_url))[0]["last_seen_at"] != created


async def test_two_instances_share_revocations(database_url: str) -> None:
    a, b = cookie_provider(database_url), cookie_provider(database_url)
    s1 = await a.create_session("u1")
    s2 = await a.create_session("u1")
    assert await b.validate_session(s1.id) is not None
    await b.destroy_session(s1.id)
    assert await a.validate_session(s1.id) is None
    listed = await b.list_sessions("u1")
    assert [s.handle for s in listed] == [s2.handle]
    assert await b.revoke_session("u1", s2.handle or "") is True
    assert await a.validate_session(s2.id) is None


async def test_purge_removes_dead_rows_only(database_url: str) -> None:
    clock = FakeClock()
    p = cookie_provider(database_url, clock)
    old = await p.create_session("u1")
    clock.advance(1700)
    live = await p.create_session("u2")
    clock.advance(200)  # `old` is idle-expired now
    assert await p.purge_expired() == 1
    assert [r["handle"] for r in await rows(database_url)] == [live.handle]
    assert await p.validate_session(old.id) is None
    assert await p.validate_session(live.id) is not None


_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from mastra.core.ee.db import dispose_engines
    from mastra.core.ee.sessions import CookieSessionProvider, SQLSessionRegistry

    async def main(url, secret, value):
        p = CookieSessionProvider(secret=secret, registry=SQLSessionRegistry(url))
        seen = await p.validate_session(value)
        out = {"valid": seen is not None, "user": seen.user_id if seen else None}
        out["revoked"] = await p.revoke_user_sessions("u1")
        out["new"] = (await p.create_session("u-child")).id
        await dispose_engines()
        print(json.dumps(out))

    asyncio.run(main(*sys.argv[1:4]))
    """
)


async def test_revocation_across_processes(database_url: str) -> None:
    parent = cookie_provider(database_url)
    mine = await parent.create_session("u1")
    other = await parent.create_session("u1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        database_url,
        SECRET,
        mine.id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["valid"] is True and result["user"] == "u1"
    assert result["revoked"] == 2
    assert await parent.validate_session(mine.id) is None
    assert await parent.validate_session(other.id) is None
    child_session = await parent.validate_session(result["new"])
    assert child_session is not None and child_session.user_id == "u-child"


async def test_memory_and_sql_registries_do_not_share(sqlite_url: str) -> None:
    # The memory provider never writes the SQL table, even with a database configured.
    memory = MemorySessionProvider()
    try:
        await memory.create_session("u1")
        sql = cookie_provider(sqlite_url)
        await sql.create_session("u2")
        async with get_engine(sqlite_url).connect() as conn:
            count = (await conn.execute(text("SELECT COUNT(*) FROM mastra_sessions"))).scalar_one()
        assert count == 1
    finally:
        await memory.aclose()


async def test_sqlite_lookup_matches_the_engine_and_sees_revocations(sqlite_url: str) -> None:
    """The SQLite fast path (sqlite3 on one thread) returns what the engine returns."""
    from mastra.core.ee.db import own_sqlite_file
    from mastra.core.ee.sessions._sql import _record

    assert own_sqlite_file(sqlite_url) is not None
    assert own_sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert own_sqlite_file(sqlite_url + "?timeout=3") is None  # options its connections ignore
    registry = SQLSessionRegistry(sqlite_url)
    p = CookieSessionProvider(secret=SECRET, registry=registry)
    session = await p.create_session("u1", {"ip": "10.0.0.1", "userAgent": "ua"})
    payload = p.unseal(session.id)
    assert payload is not None
    token_hash = sha256_hex(payload.sid)
    found = await registry.find_by_token_hash(token_hash)
    assert registry._reader is not None  # the fast path was taken
    async with get_engine(sqlite_url).connect() as conn:
        row = (
            await conn.execute(select(SESSIONS_TABLE).where(SESSIONS_TABLE.c.token_hash == token_hash))
        ).first()
    assert found == _record(row)
    assert found is not None and found.created_at.tzinfo is not None and found.revoked_at is None
    # A revocation written through the async engine (another connection) is seen at once.
    await p.destroy_session(session.id)
    revoked = await registry.find_by_token_hash(token_hash)
    assert revoked is not None and revoked.revoked_at is not None
    assert await p.validate_session(session.id) is None
    assert await registry.find_by_token_hash("0" * 64) is None
    await registry.aclose()
    assert registry._reader is None


async def test_sqlite_lookup_runs_inline_and_takes_the_thread_while_busy(sqlite_url: str) -> None:
    """The lookup runs on the event loop (no thread hop). While SQLite answers "busy"
    (another connection holds the file exclusively) or another thread is using the
    inline connection, it waits on the reader thread instead and still returns the row."""
    import sqlite3
    import threading

    from mastra.core.ee.db import dispose_engines, own_sqlite_file
    from mastra.core.ee.sessions._sql import _SQLiteReader

    registry = SQLSessionRegistry(sqlite_url)
    p = CookieSessionProvider(secret=SECRET, registry=registry)
    session = await p.create_session("u1")
    payload = p.unseal(session.id)
    assert payload is not None
    token_hash = sha256_hex(payload.sid)
    assert (await registry.find_by_token_hash(token_hash)) is not None
    reader = registry._reader
    assert reader is not None and reader._inline is not None
    assert reader._conn is None  # the thread's connection was never needed
    # Another thread's loop is using the inline connection: this one takes the hop.
    with reader._inline_lock:
        assert (await registry.find_by_token_hash(token_hash)) is not None
    assert reader._conn is not None
    await registry.aclose()

    # "Busy": every other connection closed, one holds the file in exclusive mode.
    await dispose_engines()
    file = own_sqlite_file(sqlite_url)
    assert file is not None
    path = str(file)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE mastra_sessions SET ip = '10.9.9.9'")
    holder.execute("COMMIT")  # exclusive locking mode: the lock stays held
    reader = _SQLiteReader(path, get_engine(sqlite_url))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        reader._inline = reader._connect(0)
        reader._inline.execute("SELECT 1 FROM mastra_sessions").fetchall()  # what inline meets
    release = threading.Timer(0.3, holder.close)
    release.start()
    try:
        found = await reader.find(token_hash)
    finally:
        release.join()
        reader.close()
    assert found is not None and found.ip == "10.9.9.9"
