"""Tables of the ``sql`` audit storage (SPEC 8.6).

Every filterable column has an index whose trailing column is ``seq``, so a filtered,
newest-first page is read straight off one index (no sort) on both SQLite and
PostgreSQL. ``action`` uses the ``C`` collation on PostgreSQL so ``LIKE 'auth.%'`` can
use the index; SQLite's default ``BINARY`` collation already orders bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from ._chain import as_utc

__all__ = [
    "SEQ_INDEX",
    "UTCTimestamp",
    "add_missing_columns",
    "audit_metadata",
    "chain_table",
    "counts_table",
    "events_table",
]


class UTCTimestamp(TypeDecorator[datetime]):
    """Aware UTC in Python; ``timestamptz`` on PostgreSQL, naive-UTC text on SQLite
    (whose text form sorts chronologically, so range filters use the index)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL edits on SQLite may leave a string
            value = datetime.fromisoformat(value)
        return as_utc(value)


_ACTION = String().with_variant(String(collation="C"), "postgresql")

audit_metadata = MetaData()

events_table = Table(
    "mastra_audit_events",
    audit_metadata,
    Column("id", String(36), primary_key=True),
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("timestamp", UTCTimestamp(), nullable=False),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String, nullable=False),
    Column("actor_email", String),
    Column("actor_ip", String),
    Column("actor_user_agent", String),
    Column("actor_organization_id", String),
    Column("action", _ACTION, nullable=False),
    Column("resource_type", String),
    Column("resource_id", String),
    Column("resource_name", String),
    Column("outcome", String(16), nullable=False),
    Column("metadata", Text, nullable=False, default="{}"),
    Column("duration", BigInteger().with_variant(Integer(), "sqlite")),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Id of the audit key ``hash`` was made with (HMAC-SHA256, SPEC S28); NULL for the
    # legacy plain SHA-256 of rows written before keying or without a secret.
    Column("chain_kid", String(16)),
)

# A named unique index (not an anonymous constraint) so SQLite queries can say
# ``INDEXED BY ix_mastra_audit_events_seq`` when walking newest-first is cheapest.
SEQ_INDEX = "ix_mastra_audit_events_seq"
Index(SEQ_INDEX, events_table.c.seq, unique=True)
Index("ix_mastra_audit_events_actor_id", events_table.c.actor_id, events_table.c.seq)
Index("ix_mastra_audit_events_actor_type", events_table.c.actor_type, events_table.c.seq)
Index("ix_mastra_audit_events_action", events_table.c.action, events_table.c.seq)
Index(
    "ix_mastra_audit_events_resource",
    events_table.c.resource_type,
    events_table.c.resource_id,
    events_table.c.seq,
)
Index("ix_mastra_audit_events_outcome", events_table.c.outcome, events_table.c.seq)
Index("ix_mastra_audit_events_timestamp", events_table.c.timestamp)

# One row, ``name = 'anchor'``: the last event removed by retention (SPEC 8.6), with
# an HMAC of ``{seq, hash}`` under the anchor key (``kid``, ``mac``; NULL = legacy).
chain_table = Table(
    "mastra_audit_chain",
    audit_metadata,
    Column("name", String(32), primary_key=True),
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("updated_at", UTCTimestamp(), nullable=False),
    Column("kid", String(16)),
    Column("mac", String(64)),
)

# Event counts per (UTC hour, actor type, action, outcome), maintained in the append
# transaction. Totals and stats for the common filters (time range, actor type,
# action, outcome) sum a few hundred rows here instead of counting millions of events.
counts_table = Table(
    "mastra_audit_counts",
    audit_metadata,
    Column("hour", UTCTimestamp(), primary_key=True),
    Column("actor_type", String(16), primary_key=True),
    Column("action", _ACTION, primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("n", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
)


# Columns added after the first release: databases created before them get them at
# startup (``add_missing_columns``). All are nullable, so old rows stay valid.
_ADDED_COLUMNS = ((events_table, ("chain_kid",)), (chain_table, ("kid", "mac")))


async def add_missing_columns(conn: AsyncConnection) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for each added column an existing table lacks.

    Several processes may start at once: PostgreSQL says ``IF NOT EXISTS``; SQLite has
    no such clause, so a "duplicate column" error from a concurrent starter is ignored.
    Identifiers and types come from our own table definitions, never from input.
    """
    present = await conn.run_sync(
        lambda sync: {
            t.name: {c["name"] for c in inspect(sync).get_columns(t.name)} for t, _ in _ADDED_COLUMNS
        }
    )
    postgres = conn.dialect.name == "postgresql"
    for table, names in _ADDED_COLUMNS:
        for name in names:
            if name in present[table.name]:
                continue
            column_type = table.c[name].type.compile(dialect=conn.dialect)
            guard = "IF NOT EXISTS " if postgres else ""
            ddl = f"ALTER TABLE {table.name} ADD COLUMN {guard}{name} {column_type}"
            try:
                await conn.exec_driver_sql(ddl)
            except OperationalError as exc:
                if "duplicate column" not in str(exc).lower():
                    raise
