"""Fast totals and stats for the ``sql`` storage through ``mastra_audit_counts``.

A filter that only uses actor type, action (exact, any-of, wildcard, prefix), outcome
and a time range is answered from the hourly counts for the whole hours inside the
range plus exact counts of the (at most two) partial hours at its edges. Any other
filter (actor id, resource) is selective by nature and is counted on the events
table through its index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..models import AuditFilter
from ._chain import SealedEvent, as_utc
from ._schema import counts_table, events_table
from ._sqlfilters import filter_conditions
from ._stats import hour_floor

__all__ = [
    "UPSERT_COUNTS_SQL",
    "add_counts",
    "batch_counts",
    "count_events",
    "hourly_outcomes",
    "rebuild_counts",
    "subtract_counts",
    "uses_counts",
]

_t = events_table.c
_c = counts_table.c
_COUNTED_FIELDS = {"actor_type", "action", "action_prefix", "outcome", "start_date", "end_date"}
_HOUR = timedelta(hours=1)
_LAST_MS = timedelta(hours=1) - timedelta(milliseconds=1)  # timestamps carry milliseconds


def uses_counts(audit_filter: AuditFilter) -> bool:
    return {k for k, v in audit_filter if v is not None} <= _COUNTED_FIELDS


def hour_expression(conn: AsyncConnection) -> Any:
    if conn.dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", _t.timestamp)
    return func.date_trunc("hour", func.timezone("UTC", _t.timestamp))


def parse_hour(value: Any) -> datetime:
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


# One statement, compiled once per dialect (``text`` is cached), fed one parameter row
# per key: a multi-row ``insert().values(...)`` was compiled anew for every append,
# which cost more than the rest of a 200-event append.
# The text is shared with the SQLite appender's own connection (``_sqliteappend``),
# whose driver takes the same ``:name`` parameters.
UPSERT_COUNTS_SQL = (
    f"INSERT INTO {counts_table.name} (hour, actor_type, action, outcome, n)"  # noqa: S608
    " VALUES (:hour, :actor_type, :action, :outcome, :n)"
    " ON CONFLICT (hour, actor_type, action, outcome)"
    f" DO UPDATE SET n = {counts_table.name}.n + excluded.n"
)
_UPSERT = text(UPSERT_COUNTS_SQL).bindparams(bindparam("hour", type_=_c.hour.type))


async def _upsert(conn: AsyncConnection, deltas: Counter[tuple[datetime, str, str, str]]) -> None:
    rows = [
        {"hour": hour, "actor_type": actor_type, "action": action, "outcome": outcome, "n": n}
        for (hour, actor_type, action, outcome), n in deltas.items()
        if n
    ]
    if rows:
        await conn.execute(_UPSERT, rows)


def batch_counts(sealed: Sequence[SealedEvent]) -> Counter[tuple[datetime, str, str, str]]:
    """The counts an appended batch adds, per (hour, actor type, action, outcome)."""
    if not sealed:
        return Counter()
    hour = hour_floor(sealed[0].timestamp)  # one append shares one timestamp
    per_key = Counter((s.source.actor.type, s.body["action"], s.body["outcome"]) for s in sealed)
    return Counter({(hour, *key): n for key, n in per_key.items()})


async def add_counts(conn: AsyncConnection, sealed: Sequence[SealedEvent]) -> None:
    await _upsert(conn, batch_counts(sealed))


async def _grouped(conn: AsyncConnection, *where: Any) -> Counter[tuple[datetime, str, str, str]]:
    hour = hour_expression(conn)
    query = (
        select(hour.label("hour"), _t.actor_type, _t.action, _t.outcome, func.count().label("n"))
        .where(*where)
        .group_by(hour, _t.actor_type, _t.action, _t.outcome)
    )
    rows = (await conn.execute(query)).all()
    return Counter({(parse_hour(r.hour), r.actor_type, r.action, r.outcome): int(r.n) for r in rows})


async def subtract_counts(conn: AsyncConnection, last_deleted_seq: int) -> None:
    """Before deleting events up to ``last_deleted_seq``: take them out of the counts."""
    removed = await _grouped(conn, _t.seq <= last_deleted_seq)
    await _upsert(conn, Counter({k: -n for k, n in removed.items()}))
    await conn.execute(counts_table.delete().where(_c.n <= 0))


async def rebuild_counts(conn: AsyncConnection) -> None:
    """Recompute the counts from the events (a database written before the counts
    table existed, or repaired by hand). Runs under the chain lock."""
    await conn.execute(counts_table.delete())
    await _upsert(conn, await _grouped(conn))


def _edges(f: AuditFilter) -> tuple[datetime | None, datetime | None]:
    """``[first, last)``: the whole hours inside ``[start_date, end_date]``."""
    first = None
    if f.start_date is not None:
        first = hour_floor(f.start_date)
        if first < f.start_date:
            first += _HOUR
    last = None
    if f.end_date is not None:
        last = hour_floor(f.end_date)
        if last + _LAST_MS <= f.end_date:
            last += _HOUR
    return first, last


def _edge_filters(f: AuditFilter) -> tuple[list[Any], list[AuditFilter]]:
    """Conditions selecting whole hours in the counts table, and event filters for the
    partial hours at the edges (both empty when the range covers no whole hour)."""
    first, last = _edges(f)
    if first is not None and last is not None and first >= last:
        return [], [f]  # no whole hour inside: count everything on the events table
    hours: list[Any] = []
    edges: list[AuditFilter] = []
    if first is not None:
        hours.append(_c.hour >= first)
        if first != f.start_date:
            edges.append(f.model_copy(update={"end_date": first - timedelta(microseconds=1)}))
    if last is not None:
        hours.append(_c.hour < last)
        if f.end_date is not None and last <= f.end_date:
            edges.append(f.model_copy(update={"start_date": last}))
    return hours, edges


async def count_events(conn: AsyncConnection, audit_filter: AuditFilter) -> int:
    sqlite_dialect = conn.dialect.name == "sqlite"
    if not uses_counts(audit_filter):
        where = filter_conditions(audit_filter, sqlite=sqlite_dialect)
        return int(
            (await conn.execute(select(func.count()).select_from(events_table).where(*where))).scalar_one()
        )
    hours, edges = _edge_filters(audit_filter)
    total = 0
    if hours or not edges:
        kept = audit_filter.model_copy(update={"start_date": None, "end_date": None})
        where = [*filter_conditions(kept, sqlite=sqlite_dialect, columns=_c), *hours]
        total += int(
            (await conn.execute(select(func.coalesce(func.sum(_c.n), 0)).where(*where))).scalar_one()
        )
    for edge in edges:
        where = filter_conditions(edge, sqlite=sqlite_dialect)
        total += int(
            (await conn.execute(select(func.count()).select_from(events_table).where(*where))).scalar_one()
        )
    return total


async def hourly_outcomes(
    conn: AsyncConnection, audit_filter: AuditFilter
) -> list[tuple[datetime, str, int]]:
    """``(hour, outcome, n)`` rows for ``stats``; may repeat an hour (callers sum)."""
    sqlite_dialect = conn.dialect.name == "sqlite"
    if uses_counts(audit_filter):
        hours, edges = _edge_filters(audit_filter)
        out: list[tuple[datetime, str, int]] = []
        if hours or not edges:
            kept = audit_filter.model_copy(update={"start_date": None, "end_date": None})
            where = [*filter_conditions(kept, sqlite=sqlite_dialect, columns=_c), *hours]
            query = (
                select(_c.hour, _c.outcome, func.sum(_c.n).label("n"))
                .where(*where)
                .group_by(_c.hour, _c.outcome)
            )
            out += [(parse_hour(r.hour), str(r.outcome), int(r.n)) for r in (await conn.execute(query)).all()]
        for edge in edges:
            out += await _direct_hourly(conn, edge, sqlite_dialect)
        return out
    return await _direct_hourly(conn, audit_filter, sqlite_dialect)


async def _direct_hourly(
    conn: AsyncConnection, f: AuditFilter, sqlite_dialect: bool
) -> list[tuple[datetime, str, int]]:
    hour = hour_expression(conn)
    query = (
        select(hour.label("hour"), _t.outcome, func.count().label("n"))
        .where(*filter_conditions(f, sqlite=sqlite_dialect))
        .group_by(hour, _t.outcome)
    )
    rows = (await conn.execute(query)).all()
    return [(parse_hour(r.hour), str(r.outcome), int(r.n)) for r in rows if r.hour is not None]
