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
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
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
        self._executor: ThreadPoolExecutor | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._guard = threading.Lock()
        # Opened, used and closed only in the executor's one thread.
        self._conn: sqlite3.Connection | None = None

    def _thread(self) -> ThreadPoolExecutor:
        with self._guard:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mastra-audit-sqlite")
                self._checkpointer = WalCheckpointer(self.path)
            return self._executor

    async def append(
        self, inputs: Sequence[AuditEventInput], now: datetime, keys: ChainKeys
    ) -> list[SealedEvent]:
        """Seal ``inputs`` after the chain head and commit them in one transaction."""
        job = asyncio.get_running_loop().run_in_executor(self._thread(), self._append, inputs, now, keys)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            # The transaction ends in its thread either way; leave only once it has, so the
            # caller's lock is not released while the chain head is still moving.
            await asyncio.wait([job])
            raise

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # ``mode=rw``: never create the file here (the engine creates it 0600).
            self._conn = _connect(self.path)
            self._conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
        return self._conn

    def _append(self, inputs: Sequence[AuditEventInput], now: datetime, keys: ChainKeys) -> list[SealedEvent]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            last_seq, last_hash = self._chain_head(conn, keys)
            sealed = chain_events(inputs, last_seq=last_seq, last_hash=last_hash, now=now, key=keys.current)
            for statement, parameters in sqlite_inserts(sealed):
                conn.execute(statement, parameters)
            conn.executemany(UPSERT_COUNTS_SQL, _count_rows(sealed))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        checkpointer = self._checkpointer
        if checkpointer is not None and checkpointer.committed(len(sealed)):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # it fell behind: as SQLite would
        return sealed

    @staticmethod
    def _chain_head(conn: sqlite3.Connection, keys: ChainKeys) -> tuple[int, str]:
        """The newest event, else the retention anchor, else the start of the chain.
        An unsigned (legacy) anchor about to precede a keyed event is signed first, as
        the async path does (``verify`` refuses an unsigned anchor before keyed events)."""
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

    async def aclose(self) -> None:
        """Close the connection and end the thread; a later append opens them again."""
        with self._guard:
            executor, self._executor = self._executor, None
            checkpointer, self._checkpointer = self._checkpointer, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, self._close)
        executor.shutdown(wait=False)
        if checkpointer is not None:
            await loop.run_in_executor(None, checkpointer.stop)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


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
#: WAL pages left after a checkpoint beyond which the appender checkpoints inline.
LAG_PAGES = 2_000


class WalCheckpointer:
    """A daemon thread checkpointing the WAL of ``path`` for the appender."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checkpoints = 0
        self._pending = 0
        self._behind = False
        self._stopping = False
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mastra-audit-wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self, events: int) -> bool:
        """Count a commit of ``events``; ``True`` when the caller should checkpoint
        inline: the last background checkpoint left the log too long, or the thread
        is gone."""
        with self._guard:
            self._pending += events
            behind, self._behind = self._behind, False
            if self._pending >= CHECKPOINT_EVENTS:
                self._wake.set()
        # A dead thread (a bug, never an SQLite error) must not let the log grow forever.
        return behind or not self._thread.is_alive()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._wake.wait(CHECKPOINT_SECONDS)
                self._wake.clear()
                with self._guard:
                    pending, self._pending = self._pending, 0
                if self._stopping:
                    return
                if not pending:
                    continue
                try:
                    conn = conn or _connect(self.path)
                    _busy, log_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # the next commit wakes us again; SQLite would retry too
                    logger.warning("Audit WAL checkpoint of %s failed: %s", self.path, exc)
                    continue
                self.checkpoints += 1
                if log_pages > LAG_PAGES:
                    with self._guard:
                        self._behind = True
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        """End the thread after its current checkpoint (if any)."""
        self._stopping = True
        self._wake.set()
        self._thread.join()
