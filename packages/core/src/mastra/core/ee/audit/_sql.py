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
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db import create_tables, get_engine, is_sqlite, lock_schema, own_sqlite_file, take_write_lock
from ..models import AuditEvent, AuditEventInput, AuditFilter, AuditPage, PageInfo, Pagination, utcnow
from ..options import as_provider_options
from ._canonical import ZERO_HASH
from ._chain import AuditCorruptionError, as_utc
from ._checkpoint import CheckpointTicker
from ._keys import UNKEYED, ChainKeys
from ._options import SQLAuditOptions
from ._retention import RetentionScheduler
from ._schema import add_missing_columns, audit_metadata, chain_table, counts_table, events_table
from ._sqlcounts import add_counts, count_events, hourly_outcomes, rebuild_counts, subtract_counts
from ._sqlfilters import UNINDEXED_COLUMNS, filter_conditions
from ._sqliteappend import SQLiteAppender
from ._sqlwrite import seal_and_insert
from ._stats import build_buckets, validate_bucket
from ._writer import BufferedAuditWriter, Durability

__all__ = ["SQLAuditStorage"]

BATCH_SIZE = 500
# SQLite: when walking events newest-first through the seq index is expected to visit
# at most this many rows, force that plan (see ``_plan``).
SEQ_WALK_LIMIT = 20_000
_t = events_table.c
_anchor_columns = (chain_table.c.seq, chain_table.c.hash, chain_table.c.kid, chain_table.c.mac)
# A stable 63-bit key for the PostgreSQL advisory lock guarding the chain head.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"mastra_audit_events").digest()[:8], "big") >> 1


class SQLAuditStorage:
    """Options: ``database_url`` (default: the project database), ``retention_days``
    (0 = forever), ``durability`` (``auth``, ``sync`` or ``buffered``; ``buffered=True``
    is its deprecated alias; see :class:`BufferedAuditWriter`), ``batch_size`` (500)
    and ``flush_interval`` (0.05 s) for the group-commit writer,
    ``checkpoint_events`` (1000) and ``checkpoint_minutes`` (5) for the signed
    checkpoints logged to ``mastra.audit`` (0 turns a trigger off).

    ``chain_keys`` keys the hash chain (SPEC S28); without it (no secret) events are
    chained with the legacy plain SHA-256 and no checkpoints are logged."""

    def __init__(
        self,
        database_url: str,
        *,
        retention_days: float = 0,
        durability: Durability | None = None,
        buffered: bool = False,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        clock: Callable[[], datetime] = utcnow,
        chain_keys: ChainKeys | None = None,
        checkpoint_events: int = 1000,
        checkpoint_minutes: float = 5,
    ) -> None:
        self.database_url = database_url
        self._clock = clock
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._counts_ready = False
        self._columns_ready = False
        self.chain_keys = chain_keys or UNKEYED
        self.checkpoints = CheckpointTicker(
            self.chain_keys, every_events=checkpoint_events, every_minutes=checkpoint_minutes, clock=clock
        )
        self.retention = RetentionScheduler(self.delete_before, retention_days, clock=clock)
        # ``buffered`` is the deprecated spelling of ``durability="buffered"``.
        self.durability: Durability = durability or ("buffered" if buffered else "auth")
        self.writer = BufferedAuditWriter(self, batch_size=batch_size, flush_interval=flush_interval)
        self._appender: SQLiteAppender | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SQLAuditStorage:
        parsed = as_provider_options(options).parse(SQLAuditOptions)
        return cls(
            parsed.database_url,
            retention_days=parsed.retention_days,
            durability=parsed.effective_durability,
            batch_size=parsed.batch_size,
            flush_interval=parsed.flush_interval,
            **parsed.chain_arguments(),
        )

    # -- plumbing ----------------------------------------------------------------

    async def _engine(self) -> AsyncEngine:
        engine = get_engine(self.database_url)
        await create_tables(engine, audit_metadata)
        if not self._columns_ready:
            async with engine.connect() as conn:
                await lock_schema(conn)  # other workers may be upgrading the same tables
                await add_missing_columns(conn)
                await conn.commit()
            self._columns_ready = True
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

    def _sqlite_appender(self) -> SQLiteAppender | None:
        """A SQLite file is appended to from a thread of its own (see ``_sqliteappend``),
        at the path its engine resolved; PostgreSQL and in-memory SQLite go through the
        async engine."""
        path = own_sqlite_file(self.database_url)
        if path is None:
            return None
        if self._appender is None or self._appender.path != path:
            # First use, or the engines were recreated elsewhere (a relative URL).
            self._appender = SQLiteAppender(path)
        return self._appender

    def _append_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    @staticmethod
    async def _lock_chain(conn: AsyncConnection) -> None:
        """Take the cross-process chain lock; released by the transaction's end."""
        await take_write_lock(conn, _PG_LOCK_KEY)

    @staticmethod
    async def _chain_head(conn: AsyncConnection) -> tuple[int, str, Row[Any] | None]:
        """``(seq, hash, anchor)``: the newest event, else the anchor (then returned
        too, so an unsigned one can be signed), else the start of the chain."""
        last = (await conn.execute(select(_t.seq, _t.hash).order_by(_t.seq.desc()).limit(1))).first()
        if last is not None:
            return int(last.seq), str(last.hash), None
        anchor = (await conn.execute(select(*_anchor_columns).where(chain_table.c.name == "anchor"))).first()
        if anchor is not None:
            return int(anchor.seq), str(anchor.hash), anchor
        return 0, ZERO_HASH, None

    async def _sign_legacy_anchor(self, conn: AsyncConnection, anchor: Row[Any] | None) -> None:
        """Before the first keyed event goes right after an unsigned anchor (all legacy
        events were purged before keying began), sign that anchor: verify refuses an
        unsigned anchor in front of a keyed event, as an attacker would leave one."""
        if not self.chain_keys.keyed or anchor is None or anchor.mac is not None:
            return
        await conn.execute(
            update(chain_table)
            .where(chain_table.c.name == "anchor")
            .values(**self.chain_keys.anchor_signature(int(anchor.seq), str(anchor.hash)))
        )

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
        appender = self._sqlite_appender()
        if appender is not None:
            async with self._append_lock():
                sealed = await appender.append(inputs, self._clock, self.chain_keys)
            head = sealed[-1].body
            self.checkpoints.observe(head["seq"], head["hash"], len(sealed))
            return [s.event() for s in sealed] if return_events else []
        async with self._append_lock(), engine.connect() as conn:
            await self._lock_chain(conn)
            last_seq, last_hash, anchor = await self._chain_head(conn)
            await self._sign_legacy_anchor(conn, anchor)
            key = self.chain_keys.current
            sealed = await seal_and_insert(conn, inputs, last_seq, last_hash, self._clock(), key)
            await add_counts(conn, sealed)
            await conn.commit()
            head = sealed[-1].body
            self.checkpoints.observe(head["seq"], head["hash"], len(sealed))
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
                    name="anchor",
                    seq=last.seq,
                    hash=last.hash,
                    updated_at=self._clock(),
                    **self.chain_keys.anchor_signature(int(last.seq), str(last.hash)),
                )
            )
            await conn.commit()
        return int(removed or 0)

    # -- reads -------------------------------------------------------------------

    async def _read_engine(self) -> AsyncEngine:
        """The engine for a read, once this process's queued events are committed: a
        reader sees every event emitted before it (read-your-writes)."""
        await self.writer.caught_up()
        return await self._engine()

    async def get(self, event_id: str) -> AuditEvent | None:
        engine = await self._read_engine()
        async with engine.connect() as conn:
            rows = await _fetch_events(conn, select(events_table).where(_t.id == event_id))
        row = rows[0] if rows else None
        return _from_row(row) if row is not None else None

    async def list(self, filter: AuditFilter, pagination: Pagination) -> AuditPage:
        engine = await self._read_engine()
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
        last_seq, _, _ = await self._chain_head(conn)
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
        async for row in self._iter_rows(filter, ascending):
            yield _from_row(row)

    async def iter_chain(self) -> AsyncIterator[tuple[AuditEvent, str | None]]:
        """Every event ascending with the id of the key its hash was made with."""
        async for row in self._iter_rows(AuditFilter(), True):
            yield _from_row(row), row.chain_kid

    async def _iter_rows(self, filter: AuditFilter, ascending: bool) -> AsyncIterator[Row[Any]]:
        engine = await self._read_engine()
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
                yield row
            if len(rows) < BATCH_SIZE:
                return
            cursor = int(rows[-1].seq)

    async def stats(self, filter: AuditFilter, bucket: str = "hour") -> builtins.list[dict[str, Any]]:
        validate_bucket(bucket)
        engine = await self._read_engine()
        filter_conditions(filter, sqlite=is_sqlite(engine))  # validates the action pattern
        async with engine.connect() as conn:
            counts = await hourly_outcomes(conn, filter)
        return build_buckets(counts, filter)

    async def chain_anchor(self) -> dict[str, Any] | None:
        """``{seq, hash}``, plus ``kid`` and ``mac`` when the anchor is signed."""
        engine = await self._read_engine()
        async with engine.connect() as conn:
            row = (await conn.execute(select(*_anchor_columns).where(chain_table.c.name == "anchor"))).first()
        if row is None:
            return None
        anchor: dict[str, Any] = {"seq": int(row.seq), "hash": str(row.hash)}
        if row.mac is not None:
            anchor.update(kid=row.kid, mac=row.mac)
        return anchor

    async def aclose(self) -> None:
        """Flush the group-commit writer, stop the retention task and close the
        appender's connection."""
        await self.writer.aclose()
        await self.retention.aclose()
        if self._appender is not None:
            await self._appender.aclose()


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
