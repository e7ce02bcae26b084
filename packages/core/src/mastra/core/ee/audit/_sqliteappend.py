"""``SQLiteAppender``: the append transaction of ``SQLAuditStorage`` on a SQLite file,
run whole in a thread of its own, on a connection of its own.

Through the async driver a 2,000-event append was ~35 trips between the event loop and
the driver's thread (begin, chain head, one INSERT per chunk, counts, commit, each with a
cursor opened and closed), and every trip back waited for the GIL while the loop sealed
the next chunk — up to the interpreter's 5 ms switch interval each time. Here the lock,
the chain head, the sealing, the rows, the counts and the commit are one call: one trip
per batch, and the event loop stays free for the producers of the next batch.

The transaction is the same as the async path's (``BEGIN IMMEDIATE`` is the
cross-process chain lock), so processes using either path share one gap-free chain.

WAL checkpoints are taken off the commit: SQLite's automatic checkpoint runs inside the
``COMMIT`` that crosses 1,000 pages, copying the log into the database and syncing it
while the writer waits (at 200-event batches that was half of the commit time). The
appender's connection turns it off and a :class:`WalCheckpointer` thread, on a
connection of its own, checkpoints (``PASSIVE``: it never blocks a writer) once a few
hundred events are pending or half a second after the last append. Should it fall
behind — a log past ``LAG_PAGES`` after its checkpoint — the appender checkpoints
inline after its next commit, as SQLite would have.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..db import SQLITE_PRAGMAS
from ..models import AuditEventInput
from ._canonical import ZERO_HASH
from ._chain import SealedEvent, chain_events
from ._keys import ChainKeys
from ._schema import chain_table, events_table
from ._sqlcounts import UPSERT_COUNTS_SQL, batch_counts
from ._sqlwrite import sqlite_inserts, sqlite_time

__all__ = ["SQLiteAppender", "WalCheckpointer"]

logger = logging.getLogger("mastra.ee.audit")

_HEAD = f"SELECT seq, hash FROM {events_table.name} ORDER BY seq DESC LIMIT 1"  # noqa: S608
_ANCHOR = f"SELECT seq, hash, mac FROM {chain_table.name} WHERE name = 'anchor'"  # noqa: S608
_SIGN_ANCHOR = f"UPDATE {chain_table.name} SET kid = :kid, mac = :mac WHERE name = 'anchor'"  # noqa: S608


class SQLiteAppender:
    """Appends sealed batches to the SQLite file at ``path`` (which must exist: the
    storage creates it, private, through the engine first)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._guard = threading.Lock()
        self._thread: _AppendThread | None = None

    def _current(self) -> _AppendThread:
        with self._guard:
            thread = self._thread
            # After a fork the child has neither the thread nor a usable connection (SQLite
            # forbids using one across a fork): start afresh, never touching the old ones.
            if thread is None or thread.pid != os.getpid():
                thread = self._thread = _AppendThread(self.path)
            return thread

    async def append(
        self, inputs: Sequence[AuditEventInput], clock: Callable[[], datetime], keys: ChainKeys
    ) -> list[SealedEvent]:
        """Seal ``inputs`` after the chain head and commit them in one transaction.
        ``clock`` is read once the chain lock is held, so timestamps follow ``seq``.

        Cancelling the caller does not stop a transaction already running: the caller
        leaves once it has ended (at worst after SQLite's busy timeout), so its lock is
        never released while the chain head is still moving."""
        thread = self._current()
        job = asyncio.get_running_loop().run_in_executor(thread.executor, thread.append, inputs, clock, keys)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            job.add_done_callback(_retrieve)  # nobody is left to read its outcome
            await asyncio.wait([job])
            raise

    async def aclose(self) -> None:
        """Close the connections and end the threads; a later append starts new ones."""
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None and thread.pid == os.getpid():
            await thread.aclose()


def _retrieve(job: asyncio.Future[Any]) -> None:
    if not job.cancelled():
        job.exception()


class _AppendThread:
    """One generation of the appender: its thread, its connection (used only in that
    thread), its WAL checkpointer. ``aclose`` retires a generation whole, so an append
    arriving meanwhile starts the next one instead of borrowing this connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid = os.getpid()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mastra-audit-sqlite")
        self.checkpointer = WalCheckpointer(path)
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = _connect(self.path)
            self._conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
        return self._conn

    def append(
        self, inputs: Sequence[AuditEventInput], clock: Callable[[], datetime], keys: ChainKeys
    ) -> list[SealedEvent]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            last_seq, last_hash = _chain_head(conn, keys)
            sealed = chain_events(
                inputs, last_seq=last_seq, last_hash=last_hash, now=clock(), key=keys.current
            )
            for statement, parameters in sqlite_inserts(sealed):
                conn.execute(statement, parameters)
            conn.executemany(UPSERT_COUNTS_SQL, _count_rows(sealed))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        # Committed: from here on nothing may fail the batch, or the writer would append
        # it twice. SQLite's own automatic checkpoint ignores its errors the same way.
        if self.checkpointer.committed(len(sealed)):
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # it fell behind: as SQLite would
            except sqlite3.Error as exc:
                logger.warning("Audit WAL checkpoint of %s failed: %s", self.path, exc)
        return sealed

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self._close)
        self.executor.shutdown(wait=False)
        await loop.run_in_executor(None, self.checkpointer.stop)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _chain_head(conn: sqlite3.Connection, keys: ChainKeys) -> tuple[int, str]:
    """The newest event, else the retention anchor, else the start of the chain. An
    unsigned (legacy) anchor about to precede a keyed event is signed first, as the async
    path does (``verify`` refuses an unsigned anchor in front of keyed events)."""
    last = conn.execute(_HEAD).fetchone()
    if last is not None:
        return int(last[0]), str(last[1])
    anchor = conn.execute(_ANCHOR).fetchone()
    if anchor is None:
        return 0, ZERO_HASH
    seq, hash_, mac = int(anchor[0]), str(anchor[1]), anchor[2]
    if keys.keyed and mac is None:
        conn.execute(_SIGN_ANCHOR, keys.anchor_signature(seq, hash_))
    return seq, hash_


def _count_rows(sealed: list[SealedEvent]) -> list[dict[str, object]]:
    return [
        {"hour": sqlite_time(hour), "actor_type": actor, "action": action, "outcome": outcome, "n": n}
        for (hour, actor, action, outcome), n in batch_counts(sealed).items()
    ]


def _connect(path: Path) -> sqlite3.Connection:
    # ``mode=rw``: never create the file here (the engine creates it 0600).
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


#: Events committed since the last checkpoint that wake the checkpointer at once.
CHECKPOINT_EVENTS = 256
#: Seconds after which anything pending is checkpointed anyway.
CHECKPOINT_SECONDS = 0.5
#: Rounds of ``CHECKPOINT_SECONDS`` with nothing to do after which the thread ends (and
#: closes its connection); the next commit starts it again.
IDLE_ROUNDS = 4
#: WAL pages left after a checkpoint beyond which the appender checkpoints inline.
LAG_PAGES = 2_000
#: Failed checkpoints in a row after which the appender checkpoints inline.
MAX_FAILURES = 3


class WalCheckpointer:
    """Checkpoints the WAL of ``path`` for the appender, from a daemon thread that runs
    only while there is work (a storage nobody closes leaves no thread behind)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending = 0
        self._behind = False
        self._stopping = False
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def committed(self, events: int) -> bool:
        """Count a commit of ``events`` (starting the thread if it is not running);
        ``True`` when the caller should checkpoint inline: the last background
        checkpoint left the log too long, or checkpoints keep failing."""
        with self._guard:
            self._pending += events
            behind, self._behind = self._behind, False
            if self._stopping:
                return True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="mastra-audit-wal-checkpoint", daemon=True
                )
                self._thread.start()
            if self._pending >= CHECKPOINT_EVENTS:
                self._wake.set()
        return behind

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        idle = failures = 0
        try:
            while True:
                self._wake.wait(CHECKPOINT_SECONDS)
                self._wake.clear()
                with self._guard:
                    pending, self._pending = self._pending, 0
                    if self._stopping or (not pending and idle + 1 >= IDLE_ROUNDS):
                        # Ending under the lock: a commit arriving now starts a new thread.
                        self._thread = None if self._thread is threading.current_thread() else self._thread
                        return
                if not pending:
                    idle += 1
                    continue
                idle = 0
                try:
                    conn = conn or _connect(self.path)
                    _busy, log_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # the next commit wakes us again; SQLite would retry too
                    failures += 1
                    logger.warning("Audit WAL checkpoint of %s failed: %s", self.path, exc)
                    behind = failures >= MAX_FAILURES
                else:
                    failures = 0
                    behind = log_pages > LAG_PAGES
                if behind:
                    with self._guard:
                        self._behind = True
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        """End the thread after its current checkpoint (if any); later commits are
        checkpointed inline."""
        with self._guard:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
