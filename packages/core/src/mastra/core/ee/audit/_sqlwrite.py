"""The write path of ``SQLAuditStorage``: sealing a batch and inserting its rows.

Runs inside the append transaction, under the chain lock taken by the storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..models import AuditEventInput
from ._canonical import encode_compact
from ._chain import SealedEvent, chain_events
from ._keys import ChainKey
from ._schema import events_table

__all__ = ["COLUMNS", "PIPELINE_CHUNK", "seal_and_insert", "sqlite_inserts", "sqlite_time"]

PIPELINE_CHUNK = 250


# Row order of ``_row_values``; a test checks it names every column of the table.
COLUMNS = (
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
    "chain_kid",
)
# SQLite fast path: one multi-row qmark INSERT per chunk, fed a flat tuple. It skips
# SQLAlchemy's per-row parameter processing, and one statement step per chunk keeps
# the driver thread out of the GIL for the whole chunk (executemany re-takes the GIL
# after every row), which is what lets sealing and writing overlap. Timestamps use
# the exact text form SQLAlchemy's SQLite DateTime writes and reads, so both paths
# agree on ordering. Identifiers come from our own table definition; values are bound.
_SQLITE_ROW = "(" + ", ".join("?" * len(COLUMNS)) + ")"


@lru_cache(maxsize=8)
def _sqlite_insert(rows: int) -> str:
    values = ", ".join([_SQLITE_ROW] * rows)
    return f"INSERT INTO {events_table.name} ({', '.join(COLUMNS)}) VALUES {values}"  # noqa: S608


_SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


async def seal_and_insert(
    conn: AsyncConnection,
    inputs: list[AuditEventInput],
    last_seq: int,
    last_hash: str,
    now: datetime,
    key: ChainKey | None,
) -> list[SealedEvent]:
    """Seal and insert ``inputs`` in chunks, sealing chunk k+1 (Python, this thread)
    while chunk k is written (SQLite's thread or the PostgreSQL server), so a large
    batch keeps two cores busy. Only one statement uses the connection at a time.
    ``key`` is the audit chain key (``None``: the legacy unkeyed chain)."""
    done: list[SealedEvent] = []
    pending: asyncio.Future[None] | None = None
    try:
        for start in range(0, len(inputs), PIPELINE_CHUNK):
            sealed = chain_events(
                inputs[start : start + PIPELINE_CHUNK],
                last_seq=last_seq,
                last_hash=last_hash,
                now=now,
                key=key,
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


def sqlite_time(value: datetime) -> str:
    """``value`` (aware UTC) as SQLAlchemy's SQLite ``DateTime`` writes it."""
    return value.replace(tzinfo=None).strftime(_SQLITE_TIME_FORMAT)


def sqlite_inserts(sealed: list[SealedEvent]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """``(statement, flat parameters)``: one multi-row INSERT per chunk of ``sealed``."""
    stamp = sqlite_time(sealed[0].timestamp)  # one batch shares one timestamp
    for start in range(0, len(sealed), PIPELINE_CHUNK):
        rows = [_row_values(s, stamp) for s in sealed[start : start + PIPELINE_CHUNK]]
        yield _sqlite_insert(len(rows)), tuple(chain.from_iterable(rows))


async def _insert(conn: AsyncConnection, sealed: list[SealedEvent]) -> None:
    if conn.dialect.name == "sqlite":
        for statement, flat in sqlite_inserts(sealed):
            await conn.exec_driver_sql(statement, flat)
    else:
        await conn.execute(
            insert(events_table),
            [dict(zip(COLUMNS, _row_values(s, s.timestamp), strict=True)) for s in sealed],
        )


def _row_values(sealed: SealedEvent, timestamp: Any) -> tuple[Any, ...]:
    """The events-table row of ``sealed``, in ``COLUMNS`` order."""
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
        encode_compact(body["metadata"]),
        body.get("duration"),
        body["prevHash"],
        body["hash"],
        sealed.kid,
    )
