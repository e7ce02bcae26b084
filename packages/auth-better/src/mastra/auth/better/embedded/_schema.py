"""Better-Auth-compatible tables (SPEC 10.2), typed the way Better Auth 1.7 migrates them.

Better Auth's Kysely migration on SQLite declares dates as ``date`` and stores
``Date.toISOString()`` text (``2026-03-01T12:00:00.000Z``), and booleans as
``integer`` 0/1; on PostgreSQL it uses ``timestamptz`` and ``boolean``. The column
types below reproduce exactly that DDL, so either side may create the schema and
both read each other's rows.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime
from typing import Any

from mastra.core.ee.db import create_tables, is_postgres, lock_schema
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

__all__ = ["ACCOUNT", "METADATA", "SESSION", "USER", "VERIFICATION", "ensure_schema", "parse_date"]


class _SQLiteDateDDL(UserDefinedType[Any]):
    """Renders as ``date`` in SQLite DDL (Better Auth's spelling); values are ISO text."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "date"


def parse_date(value: Any) -> datetime | None:
    """ISO text (Better Auth, us) or epoch numbers (other adapters) → aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    parsed = datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class BetterDate(TypeDecorator[datetime]):
    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(_SQLiteDateDDL())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return parse_date(value)
        return _iso(parse_date(value))  # type: ignore[arg-type]

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return parse_date(value)


class BetterBool(TypeDecorator[bool]):
    impl = Boolean
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Boolean())
        return dialect.type_descriptor(Integer())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return bool(value) if dialect.name == "postgresql" else int(bool(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bool | None:
        return None if value is None else bool(value)


METADATA = MetaData()

USER = Table(
    "user",
    METADATA,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False, unique=True),
    Column("emailVerified", BetterBool, nullable=False),
    Column("image", Text),
    Column("createdAt", BetterDate, nullable=False),
    Column("updatedAt", BetterDate, nullable=False),
    Column("role", Text),
    Column("banned", BetterBool),
)

SESSION = Table(
    "session",
    METADATA,
    Column("id", Text, primary_key=True),
    Column("expiresAt", BetterDate, nullable=False),
    Column("token", Text, nullable=False, unique=True),
    Column("createdAt", BetterDate, nullable=False),
    Column("updatedAt", BetterDate, nullable=False),
    Column("ipAddress", Text),
    Column("userAgent", Text),
    Column("userId", Text, ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Index("session_userId_idx", "userId"),
)

ACCOUNT = Table(
    "account",
    METADATA,
    Column("id", Text, primary_key=True),
    Column("accountId", Text, nullable=False),
    Column("providerId", Text, nullable=False),
    Column("userId", Text, ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("accessToken", Text),
    Column("refreshToken", Text),
    Column("idToken", Text),
    Column("accessTokenExpiresAt", BetterDate),
    Column("refreshTokenExpiresAt", BetterDate),
    Column("scope", Text),
    Column("password", Text),
    Column("createdAt", BetterDate, nullable=False),
    Column("updatedAt", BetterDate, nullable=False),
    Index("account_userId_idx", "userId"),
)

VERIFICATION = Table(
    "verification",
    METADATA,
    Column("id", Text, primary_key=True),
    Column("identifier", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("expiresAt", BetterDate, nullable=False),
    Column("createdAt", BetterDate, nullable=False),
    Column("updatedAt", BetterDate, nullable=False),
    Index("verification_identifier_idx", "identifier"),
)

# Engines (not URLs) are remembered: the test fixtures dispose and recreate engines.
_checked: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()


async def ensure_schema(engine: AsyncEngine) -> None:
    """Create missing tables, then add ``role``/``banned`` to a ``user`` table made without them
    (a Better Auth server configured without those fields)."""
    if engine in _checked:
        return
    await create_tables(engine, METADATA)
    async with engine.connect() as conn:
        await lock_schema(conn)  # workers starting together would both add the column
        columns = await conn.run_sync(lambda sync: {c["name"] for c in inspect(sync).get_columns("user")})
        bool_type = "boolean" if is_postgres(engine) else "integer"
        if "role" not in columns:
            await conn.execute(text('ALTER TABLE "user" ADD COLUMN "role" text'))
        if "banned" not in columns:
            await conn.execute(text(f'ALTER TABLE "user" ADD COLUMN "banned" {bool_type}'))
        await conn.commit()
    _checked.add(engine)
