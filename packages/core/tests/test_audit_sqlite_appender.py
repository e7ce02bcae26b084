"""The SQLite file path of ``SQLAuditStorage``: appends run whole in a thread of their
own (``_sqliteappend``). What that thread must never change: one gap-free chain with
other connections, no transaction left open by a cancelled caller, an outage reported
as one."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mastra.core.ee.audit import ChainKeys, SQLAuditStorage, emit, verify_chain
from mastra.core.ee.audit._chain import truncate_to_ms
from mastra.core.ee.audit._sqliteappend import LAG_PAGES, SQLiteAppender, WalCheckpointer
from mastra.core.ee.db import dispose_engines, is_database_outage
from mastra.core.ee.models import AuditFilter, Pagination, utcnow
from mastra.core.ee.provider import MastraAuthProvider, with_ee
from mastra.core.testing.audit import FakeClock, make_event


def _path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


async def _short_busy_timeout(appender: SQLiteAppender, ms: int = 50) -> None:
    """The appender's connection waits ``ms`` for a lock rather than the project's 10 s."""
    thread = appender._current()
    await asyncio.get_running_loop().run_in_executor(
        thread.executor, lambda: thread._connection().execute(f"PRAGMA busy_timeout={ms}")
    )


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
        await _short_busy_timeout(appender)
        with pytest.raises(sqlite3.OperationalError) as info:
            await appender.append([make_event()], storage._clock, storage.chain_keys)
        assert is_database_outage(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await appender.aclose()
    await storage.aclose()


async def test_the_appender_never_creates_a_missing_file(tmp_path: Path) -> None:
    appender = SQLiteAppender(tmp_path / "absent.db")
    with pytest.raises(sqlite3.OperationalError) as info:
        await appender.append([make_event()], utcnow, ChainKeys.from_secrets(None))
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


class _FailingCheckpoint:
    """A connection whose checkpoints fail as on a full disk; everything else passes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("PRAGMA wal_checkpoint"):
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def test_a_failed_checkpoint_after_commit_never_fails_the_batch(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Review finding: the inline checkpoint ran after COMMIT inside the job; its error
    # failed a committed batch, which the writer then appended a second time.
    storage = SQLAuditStorage(sqlite_url)
    await storage.append(make_event("test.first"))
    appender = storage._sqlite_appender()
    assert appender is not None
    thread = appender._current()
    thread._conn = _FailingCheckpoint(thread._connection())  # type: ignore[assignment]
    thread.checkpointer.committed = lambda events: True  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, "mastra.ee.audit"):
        await emit(with_ee(MastraAuthProvider(), audit_storage=storage), make_event("test.once"))
        await storage.writer.flush()
    once = await storage.list(AuditFilter(action="test.once"), Pagination())
    assert once.pagination.total == 1
    assert "checkpoint" in caplog.text and "failed (attempt" not in caplog.text
    await storage.aclose()


async def test_a_cancelled_append_that_then_fails_logs_nothing_unretrieved(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = SQLAuditStorage(sqlite_url)
    await storage.append(make_event())
    appender = storage._sqlite_appender()
    assert appender is not None
    await _short_busy_timeout(appender, 300)
    holder = sqlite3.connect(_path(sqlite_url), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        task = asyncio.create_task(appender.append([make_event()], utcnow, storage.chain_keys))
        await asyncio.sleep(0.05)
        task.cancel()
        with caplog.at_level(logging.ERROR, "asyncio"):
            with pytest.raises(asyncio.CancelledError):
                await task  # returns once the job has failed ("database is locked")
            del task
            gc.collect()
        assert "never retrieved" not in caplog.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await storage.aclose()


async def test_the_clock_is_read_once_the_chain_lock_is_held(sqlite_url: str) -> None:
    # Review finding: the timestamp was taken before BEGIN IMMEDIATE waited, so events
    # of contending processes could go back in time along seq.
    storage = SQLAuditStorage(sqlite_url)
    await storage.append(make_event())
    appender = storage._sqlite_appender()
    assert appender is not None
    clock = FakeClock()
    holder = sqlite3.connect(_path(sqlite_url), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    task = asyncio.create_task(appender.append([make_event()], clock, storage.chain_keys))
    await asyncio.sleep(0.1)  # the append waits for the lock
    clock.advance(seconds=60)
    holder.execute("ROLLBACK")
    holder.close()
    (sealed,) = await task
    assert sealed.timestamp == truncate_to_ms(clock())
    await storage.aclose()


async def test_appends_and_reads_agree_on_a_relative_file_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review finding: the appender resolved a relative URL when the storage was built,
    # the engine when it was first used: a chdir between them split writes and reads.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    storage = SQLAuditStorage("sqlite+aiosqlite:///audit-relative.db")
    monkeypatch.chdir(tmp_path / "b")
    await storage.append_many([make_event("test.rel")] * 3)
    page = await storage.list(AuditFilter(action="test.rel"), Pagination())
    assert page.pagination.total == 3
    assert (tmp_path / "b" / "audit-relative.db").exists()
    assert not (tmp_path / "a" / "audit-relative.db").exists()
    await storage.aclose()
    await dispose_engines()


async def test_closing_while_appending_never_shares_a_connection_between_threads(sqlite_url: str) -> None:
    # Review finding: an append arriving while ``aclose`` ran started a new thread that
    # picked up the old thread's connection (ProgrammingError: wrong thread).
    storage = SQLAuditStorage(sqlite_url)
    await storage.append(make_event())
    appender = storage._sqlite_appender()
    assert appender is not None
    for _ in range(20):
        results = await asyncio.gather(
            appender.aclose(),
            appender.append([make_event("test.race")], utcnow, storage.chain_keys),
            return_exceptions=True,
        )
        assert not any(isinstance(r, BaseException) for r in results), results
    report = await verify_chain(storage)
    assert report.ok and report.count == 21
    await storage.aclose()


async def test_idle_checkpointer_threads_end_by_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review finding: every storage nobody closed kept a checkpointer thread and its
    # connection (file descriptors) forever.
    from mastra.core.ee.audit import _sqliteappend

    monkeypatch.setattr(_sqliteappend, "CHECKPOINT_SECONDS", 0.02)
    before = set(threading.enumerate())
    storages = [SQLAuditStorage(f"sqlite+aiosqlite:///{tmp_path}/s{i}.db") for i in range(10)]
    for storage in storages:
        await storage.append(make_event())
    started = {t for t in set(threading.enumerate()) - before if t.name == "mastra-audit-wal-checkpoint"}
    assert started  # (the first may have ended already: 4 idle rounds of 20 ms)
    for _ in range(200):
        if not any(t.is_alive() for t in started):
            break
        await asyncio.sleep(0.02)
    assert not any(t.is_alive() for t in started)
    # The next commit starts one again.
    await storages[0].append(make_event())
    assert any(t.name == "mastra-audit-wal-checkpoint" and t not in started for t in threading.enumerate())
    for storage in storages:
        await storage.aclose()


def test_failing_background_checkpoints_turn_to_inline_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mastra.core.ee.audit import _sqliteappend

    monkeypatch.setattr(_sqliteappend, "CHECKPOINT_SECONDS", 0.01)
    checkpointer = WalCheckpointer(tmp_path / "gone.db")  # every checkpoint fails to open it
    try:
        inline = False
        for _ in range(300):
            inline = checkpointer.committed(_sqliteappend.CHECKPOINT_EVENTS)
            if inline:
                break
            time.sleep(0.01)
        assert inline
        assert not (tmp_path / "gone.db").exists()
    finally:
        checkpointer.stop()


_FORK_SCRIPT = """
import asyncio, os, sys
from mastra.core.ee.audit import SQLAuditStorage, verify_chain
from mastra.core.testing.audit import make_event

storage = SQLAuditStorage(sys.argv[1])
asyncio.run(storage.append(make_event("test.parent")))  # the parent's threads are running
pid = os.fork()
if pid == 0:
    async def child():
        await asyncio.wait_for(storage.append(make_event("test.child")), 20)
    try:
        asyncio.run(child())
    except BaseException as exc:
        print("child failed:", repr(exc), flush=True)
        os._exit(1)
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
report = asyncio.run(verify_chain(storage))
assert report.ok and report.count == 2, report
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")
def test_a_forked_child_appends_through_threads_of_its_own(sqlite_url: str) -> None:
    # Review finding: a child forked after the first append inherited an executor whose
    # thread did not survive the fork; its appends waited forever, uncancellably.
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, sqlite_url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
