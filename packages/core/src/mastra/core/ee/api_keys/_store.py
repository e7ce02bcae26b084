"""SQL tables of the ``sql`` API key provider: ``mastra_api_keys`` and
``mastra_service_accounts`` on the project database (SQLite or PostgreSQL).

A key row holds the HMAC of its secret and the id of the HMAC key (never the key or
the secret). Timestamps are UTC; SQLite hands them back naive, so they are re-tagged
on read. Scopes, roles and allow-lists are JSON arrays.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import Insert

from ..db import create_tables, get_engine
from ._models import ApiKey, OwnerType, ServiceAccount

__all__ = ["API_KEYS_TABLE", "SERVICE_ACCOUNTS_TABLE", "ApiKeyStore", "StoredKey"]

_metadata = MetaData()

API_KEYS_TABLE = Table(
    "mastra_api_keys",
    _metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("hash_kid", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("owner_type", String(20), nullable=False),
    Column("owner_id", String(255), nullable=False),
    Column("environment", String(12), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("ip_allowlist", JSON, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("last_used_ip", String(64), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("replaced_by", String(32), nullable=True),
    Index("ix_mastra_api_keys_owner", "owner_type", "owner_id"),
)

SERVICE_ACCOUNTS_TABLE = Table(
    "mastra_service_accounts",
    _metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    # Deleted accounts keep their row (audit events name them) but never come back.
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

_k = API_KEYS_TABLE.c
_s = SERVICE_ACCOUNTS_TABLE.c


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        owner_type=row.owner_type,
        owner_id=row.owner_id,
        environment=row.environment,
        scopes=list(row.scopes),
        ip_allowlist=list(row.ip_allowlist),
        created_by=row.created_by,
        created_at=_utc(row.created_at),
        expires_at=_utc(row.expires_at),
        last_used_at=_utc(row.last_used_at),
        last_used_ip=row.last_used_ip,
        revoked_at=_utc(row.revoked_at),
        replaced_by=row.replaced_by,
    )


def _account(row: Any) -> ServiceAccount:
    return ServiceAccount(
        id=row.id,
        name=row.name,
        roles=list(row.roles),
        created_by=row.created_by,
        created_at=_utc(row.created_at),
        disabled=bool(row.disabled),
    )


def _insert_values(key: ApiKey, secret_hash: str, hash_kid: str) -> Insert:
    return API_KEYS_TABLE.insert().values(
        **key.model_dump(by_alias=False, exclude={"last_used_at", "last_used_ip"}),
        secret_hash=secret_hash,
        hash_kid=hash_kid,
    )


class StoredKey:
    """A key row: the record plus its digest and HMAC key id (never leaves the provider)."""

    __slots__ = ("hash_kid", "key", "secret_hash")

    def __init__(self, key: ApiKey, secret_hash: str, hash_kid: str) -> None:
        self.key = key
        self.secret_hash = secret_hash
        self.hash_kid = hash_kid


class ApiKeyStore:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @property
    def engine(self) -> AsyncEngine:
        return get_engine(self.database_url)

    async def _ready(self) -> AsyncEngine:
        engine = self.engine
        await create_tables(engine, _metadata)
        return engine

    # -- keys ---------------------------------------------------------------------------

    async def insert_key(self, key: ApiKey, secret_hash: str, hash_kid: str) -> None:
        engine = await self._ready()
        async with engine.begin() as conn:
            await conn.execute(_insert_values(key, secret_hash, hash_kid))

    async def find_key(self, key_id: str) -> StoredKey | None:
        engine = await self._ready()
        async with engine.connect() as conn:
            row = (await conn.execute(select(API_KEYS_TABLE).where(_k.id == key_id))).first()
        return StoredKey(_key(row), row.secret_hash, row.hash_kid) if row is not None else None

    async def list_keys(self, owner_type: OwnerType, owner_id: str) -> list[ApiKey]:
        engine = await self._ready()
        query = (
            select(API_KEYS_TABLE)
            .where(_k.owner_type == owner_type, _k.owner_id == owner_id)
            .order_by(_k.created_at.desc(), _k.id)
        )
        async with engine.connect() as conn:
            return [_key(row) for row in (await conn.execute(query)).all()]

    async def update_key(self, key_id: str, **values: Any) -> bool:
        engine = await self._ready()
        async with engine.begin() as conn:
            result = await conn.execute(update(API_KEYS_TABLE).where(_k.id == key_id).values(**values))
        return bool(result.rowcount)

    async def replace_key(
        self, old_id: str, new: ApiKey, secret_hash: str, hash_kid: str, **old_values: Any
    ) -> bool:
        """Store ``new`` as the successor of ``old_id`` — only if ``old_id`` is still neither
        revoked nor replaced, in one transaction. Of concurrent rotations exactly one
        wins; the others write nothing and get ``False``."""
        engine = await self._ready()
        async with engine.begin() as conn:
            claimed = await conn.execute(
                update(API_KEYS_TABLE)
                .where(_k.id == old_id, _k.revoked_at.is_(None), _k.replaced_by.is_(None))
                .values(replaced_by=new.id, **old_values)
            )
            if not claimed.rowcount:
                return False
            await conn.execute(_insert_values(new, secret_hash, hash_kid))
        return True

    async def revoke_key(self, key_id: str, at: datetime) -> bool:
        """``False`` when the key is unknown or already revoked (by this call's rivals too)."""
        engine = await self._ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(API_KEYS_TABLE).where(_k.id == key_id, _k.revoked_at.is_(None)).values(revoked_at=at)
            )
        return bool(result.rowcount)

    async def revoke_owner_keys(self, owner_type: OwnerType, owner_id: str, at: datetime) -> int:
        engine = await self._ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(API_KEYS_TABLE)
                .where(_k.owner_type == owner_type, _k.owner_id == owner_id, _k.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return int(result.rowcount or 0)

    async def touch(self, key_id: str, at: datetime, ip: str | None, not_since: datetime) -> bool:
        """Write ``last_used_*`` unless another process did after ``not_since``: at most
        one write per key and interval, whatever the number of servers."""
        engine = await self._ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(API_KEYS_TABLE)
                .where(_k.id == key_id, or_(_k.last_used_at.is_(None), _k.last_used_at <= not_since))
                .values(last_used_at=at, last_used_ip=ip)
            )
        return bool(result.rowcount)

    # -- service accounts --------------------------------------------------------------------

    async def insert_account(self, account: ServiceAccount) -> None:
        engine = await self._ready()
        async with engine.begin() as conn:
            await conn.execute(SERVICE_ACCOUNTS_TABLE.insert().values(**account.model_dump(by_alias=False)))

    async def find_account(self, account_id: str) -> ServiceAccount | None:
        engine = await self._ready()
        query = select(SERVICE_ACCOUNTS_TABLE).where(_s.id == account_id, _s.deleted_at.is_(None))
        async with engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _account(row) if row is not None else None

    async def list_accounts(self) -> list[ServiceAccount]:
        engine = await self._ready()
        query = select(SERVICE_ACCOUNTS_TABLE).where(_s.deleted_at.is_(None)).order_by(_s.created_at, _s.id)
        async with engine.connect() as conn:
            return [_account(row) for row in (await conn.execute(query)).all()]

    async def update_account(self, account_id: str, **values: Any) -> bool:
        engine = await self._ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(SERVICE_ACCOUNTS_TABLE)
                .where(and_(_s.id == account_id, _s.deleted_at.is_(None)))
                .values(**values)
            )
        return bool(result.rowcount)
