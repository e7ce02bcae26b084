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
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..db import create_tables, get_engine, is_sqlite
from ..errors import ConfigurationError
from ..models import AuditEvent, AuditEventInput, AuditFilter, AuditPage, PageInfo, Pagination, utcnow
from ._canonical import ZERO_HASH
from ._chain import AuditCorruptionError, SealedEvent, as_utc, chain_events
from ._options import option_bool, option_float
from ._retention import RetentionScheduler
from ._schema import audit_metadata, chain_table, events_table
from ._sqlfilters import filter_conditions
from ._stats import build_buckets, validate_bucket
from ._writer import BufferedAuditWriter

__all__ = ["SQLAuditStorage"]

BATCH_SIZE = 500
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
        self.retention = RetentionScheduler(self.delete_before, retention_days, clock=clock)
        self.writer = (
            BufferedAuditWriter(self, batch_size=batch_size, flush_interval=flush_interval) if buffered else None
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
        self.retention.ensure_started()
        return engine

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
        anchor = (await conn.execute(select(chain_table.c.seq, chain_table.c.hash))).first()
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
            sealed = chain_events(inputs, last_seq=last_seq, last_hash=last_hash, now=self._clock())
            await _insert(conn, sealed)
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
            boundary = (await conn.execute(select(func.min(_t.seq)).where(_t.timestamp >= cutoff))).scalar()
            last_q = select(_t.seq, _t.hash).order_by(_t.seq.desc()).limit(1)
            if boundary is not None:
                last_q = last_q.where(_t.seq < boundary)
            last = (await conn.execute(last_q)).first()
            if last is None:
                await conn.rollback()
                return 0
            removed = (await conn.execute(delete(events_table).where(_t.seq <= last.seq))).rowcount
            await conn.execute(delete(chain_table).where(chain_table.c.name == "anchor"))
            await conn.execute(
                insert(chain_table).values(name="anchor", seq=last.seq, hash=last.hash, updated_at=self._clock())
            )
            await conn.commit()
        return int(removed or 0)

    # -- reads -------------------------------------------------------------------

    async def get(self, event_id: str) -> AuditEvent | None:
        engine = await self._engine()
        async with engine.connect() as conn:
            row = (await conn.execute(select(events_table).where(_t.id == event_id))).first()
        return _from_row(row) if row is not None else None

    async def list(self, filter: AuditFilter, pagination: Pagination) -> AuditPage:
        engine = await self._engine()
        where = filter_conditions(filter, sqlite=is_sqlite(engine))
        query = select(events_table).where(*where).order_by(_t.seq.desc())
        if pagination.per_page is not None:
            query = query.limit(pagination.per_page).offset(pagination.page * pagination.per_page)
        async with engine.connect() as conn:
            total = int((await conn.execute(select(func.count()).select_from(events_table).where(*where))).scalar_one())
            rows = (await conn.execute(query)).all()
        per_page = pagination.per_page if pagination.per_page is not None else max(total, 1)
        has_more = pagination.per_page is not None and total > (pagination.page + 1) * per_page
        return AuditPage(
            events=[_from_row(row) for row in rows],
            pagination=PageInfo(total=total, page=pagination.page, per_page=per_page, has_more=has_more),
        )

    async def iter_events(self, filter: AuditFilter, ascending: bool = False) -> AsyncIterator[AuditEvent]:
        """Keyset pages of 500 by ``seq``, each its own short query: memory stays flat
        and no transaction is held open while the consumer (an HTTP client) is slow."""
        engine = await self._engine()
        where = filter_conditions(filter, sqlite=is_sqlite(engine))
        order = _t.seq.asc() if ascending else _t.seq.desc()
        cursor: int | None = None
        while True:
            query = select(events_table).where(*where).order_by(order).limit(BATCH_SIZE)
            if cursor is not None:
                query = query.where(_t.seq > cursor if ascending else _t.seq < cursor)
            async with engine.connect() as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                yield _from_row(row)
            if len(rows) < BATCH_SIZE:
                return
            cursor = int(rows[-1].seq)

    async def stats(self, filter: AuditFilter, bucket: str = "hour") -> builtins.list[dict[str, Any]]:
        validate_bucket(bucket)
        engine = await self._engine()
        sqlite = is_sqlite(engine)
        if sqlite:
            hour = func.strftime("%Y-%m-%d %H:00:00", _t.timestamp)
        else:
            hour = func.date_trunc("hour", func.timezone("UTC", _t.timestamp))
        query = (
            select(hour.label("hour"), _t.outcome, func.count().label("n"))
            .where(*filter_conditions(filter, sqlite=sqlite))
            .group_by(hour, _t.outcome)
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        counts = [(_parse_hour(r.hour), str(r.outcome), int(r.n)) for r in rows if r.hour is not None]
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


def _parse_hour(value: Any) -> datetime:
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


_COLUMNS = [c.name for c in events_table.columns]
# SQLite fast path: a prepared qmark INSERT fed tuples, skipping SQLAlchemy's per-row
# parameter processing (it halves the insert cost). Timestamps use the exact text form
# SQLAlchemy's SQLite DateTime writes and reads, so both paths agree on ordering.
_SQLITE_INSERT = (
    f"INSERT INTO {events_table.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
)
_SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


async def _insert(conn: AsyncConnection, sealed: builtins.list[SealedEvent]) -> None:
    rows = [_to_row(s) for s in sealed]
    if conn.dialect.name == "sqlite":
        stamp = sealed[0].timestamp.replace(tzinfo=None).strftime(_SQLITE_TIME_FORMAT)
        for row in rows:
            row["timestamp"] = stamp
        await conn.exec_driver_sql(_SQLITE_INSERT, [tuple(row[c] for c in _COLUMNS) for row in rows])
    else:
        await conn.execute(insert(events_table), rows)


def _to_row(sealed: SealedEvent) -> dict[str, Any]:
    body, source = sealed.body, sealed.source
    actor, resource = source.actor, source.resource
    return {
        "id": body["id"],
        "seq": body["seq"],
        "timestamp": sealed.timestamp,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_email": actor.email,
        "actor_ip": actor.ip,
        "actor_user_agent": actor.user_agent,
        "actor_organization_id": actor.organization_id,
        "action": body["action"],
        "resource_type": resource.type if resource else None,
        "resource_id": resource.id if resource else None,
        "resource_name": resource.name if resource else None,
        "outcome": body["outcome"],
        "metadata": _json_text.encode(body["metadata"]),
        "duration": body.get("duration"),
        "prev_hash": body["prevHash"],
        "hash": body["hash"],
    }


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
        fields = ", ".join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()})) if isinstance(
            exc, ValidationError
        ) else str(exc)
        raise AuditCorruptionError(f"invalid stored value ({fields})", seq=seq, event_id=event_id) from None
