"""``SQLAuditStorage`` (SPEC 8.6 ``sql``) on SQLite or PostgreSQL.

Appends are serialised twice: an in-process lock (cheap waits for coroutines of one
process) and a database lock held for the whole append transaction — ``BEGIN
IMMEDIATE`` on SQLite, ``pg_advisory_xact_lock`` on PostgreSQL — so several server
processes sharing one database still produce a gap-free ``seq`` and one chain.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db import create_tables, get_engine, is_sqlite
from ..errors import ConfigurationError
from ..models import AuditEvent, AuditEventInput, AuditFilter, AuditPage, PageInfo, Pagination, utcnow
from ._canonical import ZERO_HASH
from ._chain import AuditCorruptionError, SealedEvent, as_utc, chain_events
from ._options import option_bool, option_float
from ._retention import RetentionScheduler
from ._schema import audit_metadata, chain_table, counts_table, events_table
from ._sqlcounts import add_counts, count_events, hourly_outcomes, rebuild_counts, subtract_counts
from ._sqlfilters import UNINDEXED_COLUMNS, filter_conditions
from ._stats import build_buckets, validate_bucket
from ._writer import BufferedAuditWriter

__all__ = ["SQLAuditStorage"]

BATCH_SIZE = 500
# SQLite: when walking events newest-first through the seq index is expected to visit
# at most this many rows, force that plan (see ``_plan``).
SEQ_WALK_LIMIT = 20_000
PIPELINE_CHUNK = 250
_t = events_table.c
# A stable 63-bit key for the PostgreSQL advisory lock guarding the chain head.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"mastra_audit_events").digest()[:8], "big") >> 1


class SQLAuditStorage:
    """Options: ``database_url`` (default: the project database), ``retention_days``
    (0 = forever), ``buffered`` (default false; see :class:`BufferedAuditWriter`),
    ``batch_size`` (500) and ``flush_interval`` (0.05 s) for the buffered writer."""

    def __init__(
        self,
        database_url: str,
        *,
        retention_days: float = 0,
        buffered: bool = False,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database_url = database_url
        self._clock = clock
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._counts_ready = False
        self.retention = RetentionScheduler(self.delete_before, retention_days, clock=clock)
        self.writer = (
            BufferedAuditWriter(self, batch_size=batch_size, flush_interval=flush_interval)
            if buffered
            else None
        )

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SQLAuditStorage:
        settings = options.get("_settings")
        url = options.get("database_url") or getattr(settings, "database_url", None)
        if not url:
            raise ConfigurationError("The sql audit storage needs MASTRA_DATABASE_URL")
        return cls(
            str(url),
            retention_days=option_float(options, "retention_days", 0),
            buffered=option_bool(options, "buffered", False),
            batch_size=int(option_float(options, "batch_size", 500, minimum=1)),
            flush_interval=option_float(options, "flush_interval", 0.05),
        )

    # -- plumbing ----------------------------------------------------------------

    async def _engine(self) -> AsyncEngine:
        engine = get_engine(self.database_url)
        await create_tables(engine, audit_metadata)
        if not self._counts_ready:
            await self._ensure_counts(engine)
        self.retention.ensure_started()
        return engine

    async def _ensure_counts(self, engine: AsyncEngine) -> None:
        """Backfill ``mastra_audit_counts`` for events written before it existed."""
        async with engine.connect() as conn:
            has_counts = (await conn.execute(select(counts_table.c.n).limit(1))).first() is not None
            has_events = (await conn.execute(select(_t.seq).limit(1))).first() is not None
        if has_events and not has_counts:
            async with self._append_lock(), engine.connect() as conn:
                await self._lock_chain(conn)
                if (await conn.execute(select(counts_table.c.n).limit(1))).first() is None:
                    await rebuild_counts(conn)
                await conn.commit()
        self._counts_ready = True

    def _append_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    @staticmethod
    async def _lock_chain(conn: AsyncConnection) -> None:
        """Take the cross-process chain lock; released by the transaction's end."""
        if conn.dialect.name == "sqlite":
            # pysqlite begins lazily; an explicit BEGIN IMMEDIATE takes the write lock now.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})

    @staticmethod
    async def _chain_head(conn: AsyncConnection) -> tuple[int, str]:
        last = (await conn.execute(select(_t.seq, _t.hash).order_by(_t.seq.desc()).limit(1))).first()
        if last is not None:
            return int(last.seq), str(last.hash)
        anchor = (
            await conn.execute(
                select(chain_table.c.seq, chain_table.c.hash).where(chain_table.c.name == "anchor")
            )
        ).first()
        if anchor is not None:
            return int(anchor.seq), str(anchor.hash)
        return 0, ZERO_HASH

    # -- writes ------------------------------------------------------------------

    async def append(self, event: AuditEventInput) -> AuditEvent:
        return (await self.append_many([event]))[0]

    async def append_many(
        self, events: Iterable[AuditEventInput], *, return_events: bool = True
    ) -> builtins.list[AuditEvent]:
        """Append in order in one transaction: consecutive ``seq``, one chain.

        ``return_events=False`` skips building the result models (the buffered writer
        does not need them) and returns ``[]``.
        """
        inputs = builtins.list(events)
        if not inputs:
            return []
        engine = await self._engine()
        async with self._append_lock(), engine.connect() as conn:
            await self._lock_chain(conn)
            last_seq, last_hash = await self._chain_head(conn)
            sealed = await _seal_and_insert(conn, inputs, last_seq, last_hash, self._clock())
            await add_counts(conn, sealed)
            await conn.commit()
        return [s.event() for s in sealed] if return_events else []

    async def delete_before(self, cutoff: datetime) -> int:
        """Delete the longest prefix of the chain older than ``cutoff`` and anchor the
        chain at the last deleted event (stopping at the first newer event keeps the
        rest contiguous even if a clock stepped backwards)."""
        cutoff = as_utc(cutoff)
        engine = await self._engine()
        async with self._append_lock(), engine.connect() as conn:
            await self._lock_chain(conn)
            # The first event at or after the cutoff, found by walking seq upwards (it
            # touches only the rows about to go; on SQLite the timestamp index is hidden).
            stamp = UNINDEXED_COLUMNS.timestamp if conn.dialect.name == "sqlite" else _t.timestamp
            boundary = (
                await conn.execute(select(_t.seq).where(stamp >= cutoff).order_by(_t.seq).limit(1))
            ).scalar()
            last_q = select(_t.seq, _t.hash).order_by(_t.seq.desc()).limit(1)
            if boundary is not None:
                last_q = last_q.where(_t.seq < boundary)
            last = (await conn.execute(last_q)).first()
            if last is None:
                await conn.rollback()
                return 0
            await subtract_counts(conn, last.seq)
            removed = (await conn.execute(delete(events_table).where(_t.seq <= last.seq))).rowcount
            await conn.execute(delete(chain_table).where(chain_table.c.name == "anchor"))
            await conn.execute(
                insert(chain_table).values(
                    name="anchor", seq=last.seq, hash=last.hash, updated_at=self._clock()
                )
            )
            await conn.commit()
        return int(removed or 0)

    # -- reads -------------------------------------------------------------------

    async def get(self, event_id: str) -> AuditEvent | None:
        engine = await self._engine()
        async with engine.connect() as conn:
            rows = await _fetch_events(conn, select(events_table).where(_t.id == event_id))
        row = rows[0] if rows else None
        return _from_row(row) if row is not None else None

    async def list(self, filter: AuditFilter, pagination: Pagination) -> AuditPage:
        engine = await self._engine()
        where = filter_conditions(filter, sqlite=is_sqlite(engine))
        async with engine.connect() as conn:
            stored = await self._stored_count(conn)
            total = stored if not where else await count_events(conn, filter)
            query = self._plan(conn, filter, total, stored, rows_needed=_rows_needed(pagination))
            query = query.order_by(_t.seq.desc())
            if pagination.per_page is not None:
                query = query.limit(pagination.per_page).offset(pagination.page * pagination.per_page)
            rows = await _fetch_events(conn, query) if total else []
        per_page = pagination.per_page if pagination.per_page is not None else max(total, 1)
        has_more = pagination.per_page is not None and total > (pagination.page + 1) * per_page
        return AuditPage(
            events=[_from_row(row) for row in rows],
            pagination=PageInfo(total=total, page=pagination.page, per_page=per_page, has_more=has_more),
        )

    async def _stored_count(self, conn: AsyncConnection) -> int:
        """Events in the table, from the chain head and anchor in O(1): ``seq`` is
        gap-free from the anchor (a gap made behind our back is what verify reports)."""
        last_seq, _ = await self._chain_head(conn)
        anchor = (
            await conn.execute(select(chain_table.c.seq).where(chain_table.c.name == "anchor"))
        ).scalar()
        return max(0, last_seq - int(anchor or 0))

    @staticmethod
    def _plan(
        conn: AsyncConnection, audit_filter: AuditFilter, matching: int, stored: int, *, rows_needed: int
    ) -> Any:
        """The events ``SELECT`` for a newest-first read of ``rows_needed`` rows.

        Without statistics SQLite prefers any index matching a condition and then sorts
        every match by ``seq``: ruinous for a broad filter (``auth.*`` is half the log).
        Walking the ``seq`` index backwards visits about ``rows_needed * stored /
        matching`` rows, so when that is small the walk is forced by hiding the other
        indexes (``+column``); otherwise the filter is selective and its own index
        wins. PostgreSQL keeps statistics and plans well on its own.
        """
        sqlite = conn.dialect.name == "sqlite"
        columns = None
        if sqlite and matching and rows_needed * stored / matching <= SEQ_WALK_LIMIT:
            columns = UNINDEXED_COLUMNS
        return select(events_table).where(*filter_conditions(audit_filter, sqlite=sqlite, columns=columns))

    async def iter_events(self, filter: AuditFilter, ascending: bool = False) -> AsyncIterator[AuditEvent]:
        """Keyset pages of 500 by ``seq``, each its own short query: memory stays flat
        and no transaction is held open while the consumer (an HTTP client) is slow."""
        engine = await self._engine()
        where = filter_conditions(filter, sqlite=is_sqlite(engine))
        async with engine.connect() as conn:
            stored = await self._stored_count(conn)
            matching = await count_events(conn, filter) if where else stored
            base = self._plan(conn, filter, matching, stored, rows_needed=BATCH_SIZE)
        if not matching:
            return
        order = _t.seq.asc() if ascending else _t.seq.desc()
        cursor: int | None = None
        while True:
            query = base.order_by(order).limit(BATCH_SIZE)
            if cursor is not None:
                query = query.where(_t.seq > cursor if ascending else _t.seq < cursor)
            async with engine.connect() as conn:
                rows = await _fetch_events(conn, query)
            for row in rows:
                yield _from_row(row)
            if len(rows) < BATCH_SIZE:
                return
            cursor = int(rows[-1].seq)

    async def stats(self, filter: AuditFilter, bucket: str = "hour") -> builtins.list[dict[str, Any]]:
        validate_bucket(bucket)
        engine = await self._engine()
        filter_conditions(filter, sqlite=is_sqlite(engine))  # validates the action pattern
        async with engine.connect() as conn:
            counts = await hourly_outcomes(conn, filter)
        return build_buckets(counts, filter)

    async def chain_anchor(self) -> dict[str, Any] | None:
        engine = await self._engine()
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(chain_table.c.seq, chain_table.c.hash).where(chain_table.c.name == "anchor")
                )
            ).first()
        return {"seq": int(row.seq), "hash": str(row.hash)} if row is not None else None

    async def aclose(self) -> None:
        """Flush the buffered writer (if any) and stop the retention task."""
        if self.writer is not None:
            await self.writer.aclose()
        await self.retention.aclose()


async def _fetch_events(conn: AsyncConnection, query: Any) -> builtins.list[Row[Any]]:
    """Rows of ``events_table``; a column the driver cannot even convert (a timestamp
    edited into nonsense) becomes an ``AuditCorruptionError`` rather than a bare crash."""
    try:
        return builtins.list((await conn.execute(query)).all())
    except (ValueError, TypeError, OverflowError) as exc:
        reason = f"a stored value cannot be read ({type(exc).__name__})"
        # Find the offending row so the error (and verify) can name it.
        for seq, event_id in (await conn.execute(query.with_only_columns(_t.seq, _t.id))).all():
            try:
                (await conn.execute(select(events_table).where(_t.seq == seq))).all()
            except (ValueError, TypeError, OverflowError):
                raise AuditCorruptionError(reason, seq=seq, event_id=event_id) from None
        raise AuditCorruptionError(reason) from None


def _rows_needed(pagination: Pagination) -> int:
    if pagination.per_page is None:
        return 1 << 62  # everything: never force the walk
    return (pagination.page + 1) * pagination.per_page


# Row order of ``_row_values``; a test checks it names every column of the table.
_COLUMNS = (
    "id",
    "seq",
    "timestamp",
    "actor_type",
    "actor_id",
    "actor_email",
    "actor_ip",
    "actor_user_agent",
    "actor_organization_id",
    "action",
    "resource_type",
    "resource_id",
    "resource_name",
    "outcome",
    "metadata",
    "duration",
    "prev_hash",
    "hash",
)
# SQLite fast path: one multi-row qmark INSERT per chunk, fed a flat tuple. It skips
# SQLAlchemy's per-row parameter processing, and one statement step per chunk keeps
# the driver thread out of the GIL for the whole chunk (executemany re-takes the GIL
# after every row), which is what lets sealing and writing overlap. Timestamps use
# the exact text form SQLAlchemy's SQLite DateTime writes and reads, so both paths
# agree on ordering. Identifiers come from our own table definition; values are bound.
_SQLITE_ROW = "(" + ", ".join("?" * len(_COLUMNS)) + ")"


@lru_cache(maxsize=8)
def _sqlite_insert(rows: int) -> str:
    values = ", ".join([_SQLITE_ROW] * rows)
    return f"INSERT INTO {events_table.name} ({', '.join(_COLUMNS)}) VALUES {values}"  # noqa: S608


_SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


async def _seal_and_insert(
    conn: AsyncConnection,
    inputs: builtins.list[AuditEventInput],
    last_seq: int,
    last_hash: str,
    now: datetime,
) -> builtins.list[SealedEvent]:
    """Seal and insert ``inputs`` in chunks, sealing chunk k+1 (Python, this thread)
    while chunk k is written (SQLite's thread or the PostgreSQL server), so a large
    batch keeps two cores busy. Only one statement uses the connection at a time."""
    done: builtins.list[SealedEvent] = []
    pending: asyncio.Future[None] | None = None
    try:
        for start in range(0, len(inputs), PIPELINE_CHUNK):
            sealed = chain_events(
                inputs[start : start + PIPELINE_CHUNK], last_seq=last_seq, last_hash=last_hash, now=now
            )
            last_seq, last_hash = sealed[-1].body["seq"], sealed[-1].body["hash"]
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(_insert(conn, sealed))
            await asyncio.sleep(0)  # let the insert reach the driver before sealing more
            done.extend(sealed)
        if pending is not None:
            await pending
    except BaseException:
        if pending is not None and not pending.done():
            await asyncio.wait([pending])  # never leave a statement running on the connection
        raise
    return done


async def _insert(conn: AsyncConnection, sealed: builtins.list[SealedEvent]) -> None:
    if conn.dialect.name == "sqlite":
        stamp = sealed[0].timestamp.replace(tzinfo=None).strftime(_SQLITE_TIME_FORMAT)
        flat = tuple(value for s in sealed for value in _row_values(s, stamp))
        await conn.exec_driver_sql(_sqlite_insert(len(sealed)), flat)
    else:
        await conn.execute(
            insert(events_table),
            [dict(zip(_COLUMNS, _row_values(s, s.timestamp), strict=True)) for s in sealed],
        )


def _row_values(sealed: SealedEvent, timestamp: Any) -> tuple[Any, ...]:
    """The events-table row of ``sealed``, in ``_COLUMNS`` order."""
    body, source = sealed.body, sealed.source
    actor, resource = source.actor, source.resource
    return (
        body["id"],
        body["seq"],
        timestamp,
        actor.type,
        actor.id,
        actor.email,
        actor.ip,
        actor.user_agent,
        actor.organization_id,
        body["action"],
        resource.type if resource else None,
        resource.id if resource else None,
        resource.name if resource else None,
        body["outcome"],
        _json_text.encode(body["metadata"]),
        body.get("duration"),
        body["prevHash"],
        body["hash"],
    )


def _from_row(row: Row[Any]) -> AuditEvent:
    """Rebuild the API event; any unreadable value raises ``AuditCorruptionError``."""
    m = row._mapping
    seq, event_id = m["seq"], m["id"]
    try:
        metadata = json.loads(m["metadata"]) if m["metadata"] is not None else {}
    except (TypeError, ValueError):
        raise AuditCorruptionError("metadata is not valid JSON", seq=seq, event_id=event_id) from None
    if not isinstance(metadata, dict):
        raise AuditCorruptionError("metadata is not a JSON object", seq=seq, event_id=event_id)
    actor = {
        "type": m["actor_type"],
        "id": m["actor_id"],
        "email": m["actor_email"],
        "ip": m["actor_ip"],
        "user_agent": m["actor_user_agent"],
        "organization_id": m["actor_organization_id"],
    }
    resource = None
    if m["resource_type"] is not None or m["resource_id"] is not None:
        resource = {"type": m["resource_type"], "id": m["resource_id"], "name": m["resource_name"]}
    try:
        return AuditEvent(
            id=event_id,
            seq=seq,
            timestamp=m["timestamp"],
            actor=actor,
            action=m["action"],
            outcome=m["outcome"],
            resource=resource,
            metadata=metadata,
            duration=m["duration"],
            prev_hash=m["prev_hash"],
            hash=m["hash"],
        )
    except (ValidationError, ValueError) as exc:
        fields = (
            ", ".join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()}))
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        raise AuditCorruptionError(f"invalid stored value ({fields})", seq=seq, event_id=event_id) from None
