"""The SQLite file path of ``SQLAuditStorage``: appends run whole in a thread of their
own (``_sqliteappend``). What that thread must never change: one gap-free chain with
other connections, no transaction left open by a cancelled caller, an outage reported
as one."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from mastra.core.ee.audit import ChainKeys, SQLAuditStorage, verify_chain
from mastra.core.ee.audit._sqliteappend import LAG_PAGES, SQLiteAppender
from mastra.core.ee.db import is_database_outage
from mastra.core.ee.models import AuditFilter, Pagination, utcnow
from mastra.core.testing.audit import make_event


def _path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


async def test_a_cancelled_append_leaves_no_transaction_and_one_chain(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    await storage.append(make_event("test.first"))
    task = asyncio.create_task(storage.append_many([make_event("test.big")] * 5_000))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The cancelled caller left only once its transaction had ended: the write lock is
    # free at once for another connection (busy_timeout 0: no waiting).
    other = sqlite3.connect(_path(sqlite_url), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
    await storage.append(make_event("test.after"))
    report = await verify_chain(storage)
    big = (await storage.list(AuditFilter(action="test.big"), Pagination(per_page=1))).pagination.total
    assert report.ok and report.count == 2 + big and big in (0, 5_000)
    await storage.aclose()


async def test_the_appender_and_the_async_engine_share_one_chain(sqlite_url: str) -> None:
    # Retention's delete runs through the engine under the same BEGIN IMMEDIATE lock;
    # appends interleaved with it from the appender's connection stay one chain.
    storage = SQLAuditStorage(sqlite_url)
    await storage.append_many([make_event(f"test.e{i}") for i in range(50)])
    deleted, *_ = await asyncio.gather(
        storage.delete_before(utcnow() + timedelta(seconds=1)),
        *(storage.append(make_event("test.late")) for _ in range(20)),
    )
    await storage.append(make_event("test.last"))
    report = await verify_chain(storage)
    assert report.ok and deleted >= 50 and report.count == 71 - deleted
    await storage.aclose()


async def test_close_ends_the_threads_and_a_later_append_reopens(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    before = set(threading.enumerate())
    await storage.append(make_event())
    started = {t for t in set(threading.enumerate()) - before if t.name.startswith("mastra-audit")}
    assert len(started) == 2  # the appender's and the WAL checkpointer's
    await storage.aclose()
    for _ in range(100):  # the executor's thread exits once it has seen the shutdown
        if not any(t.is_alive() for t in started):
            break
        await asyncio.sleep(0.01)
    assert not any(t.is_alive() for t in started)
    await storage.append(make_event())
    assert (await verify_chain(storage)).count == 2
    await storage.aclose()


async def test_a_locked_database_is_an_outage_not_a_bug(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    await storage.append(make_event())
    appender = SQLiteAppender(_path(sqlite_url))
    holder = sqlite3.connect(_path(sqlite_url), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # Its own connection, told to wait 50 ms rather than the project's 10 s.
        await asyncio.get_running_loop().run_in_executor(
            appender._thread(), lambda: appender._connection().execute("PRAGMA busy_timeout=50")
        )
        with pytest.raises(sqlite3.OperationalError) as info:
            await appender.append([make_event()], storage._clock(), storage.chain_keys)
        assert is_database_outage(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await appender.aclose()
    await storage.aclose()


async def test_the_appender_never_creates_a_missing_file(tmp_path: Path) -> None:
    appender = SQLiteAppender(tmp_path / "absent.db")
    with pytest.raises(sqlite3.OperationalError) as info:
        await appender.append([make_event()], utcnow(), ChainKeys.from_secrets(None))
    assert is_database_outage(info.value)
    assert not (tmp_path / "absent.db").exists()
    await appender.aclose()


async def test_the_wal_is_checkpointed_off_the_commit_and_stays_bounded(sqlite_url: str) -> None:
    # The appender's connection never checkpoints (wal_autocheckpoint=0): the WAL
    # checkpointer thread must copy the log into the database file, under a sustained
    # stream of appends too, or the log would grow without end.
    storage = SQLAuditStorage(sqlite_url)
    path = _path(sqlite_url)
    total = 0
    for _ in range(80):
        await storage.append_many([make_event("test.burst", metadata={"pad": "x" * 200})] * 250)
        total += 250
    wal = Path(f"{path}-wal").stat().st_size
    # 20,000 events are ~45 MB of log pages. The log restarts once a checkpoint has
    # copied all of it, which a checkpoint racing the next commit rarely manages, so
    # past LAG_PAGES the appender checkpoints inline: at most that plus a batch or two.
    assert wal < LAG_PAGES * 4096 + 4 * 2**20, wal

    def in_database_file() -> int:
        # ``immutable``: read the database file alone, ignoring the WAL. A checkpoint
        # writing into the file meanwhile can make that read torn ("malformed"): again.
        conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM mastra_audit_events").fetchone()[0])
        except sqlite3.DatabaseError:
            return -1
        finally:
            conn.close()

    for _ in range(200):
        if in_database_file() == total:
            break
        await asyncio.sleep(0.02)
    assert in_database_file() == total
    assert (await verify_chain(storage)).count == total
    await storage.aclose()
