"""SQL access to the Better Auth tables: every query of the embedded mode lives here."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from mastra.core.ee.db import get_engine, is_database_outage, is_postgres
from mastra.core.ee.errors import ProviderUnavailable
from mastra.core.ee.models import utcnow
from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from .._records import generate_id
from ._schema import ACCOUNT, SESSION, USER, VERIFICATION, ensure_schema

__all__ = ["BetterStore", "DuplicateEmail", "unavailable_without_database"]

logger = logging.getLogger("mastra.auth.better")
_P = ParamSpec("_P")
_T = TypeVar("_T")

_OWNER_LOCK_KEY = 0x6D62_6F77  # advisory lock id for "first user becomes owner"


class DuplicateEmail(Exception):
    """The ``user.email`` unique constraint refused an insert."""


def unavailable_without_database(method: Callable[_P, Awaitable[_T]]) -> Callable[_P, Awaitable[_T]]:
    """A database that cannot be reached makes the provider unavailable (the credential
    routes answer 503), not a wrong password (401) or a refused sign-up (400)."""

    @functools.wraps(method)
    async def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(*args, **kwargs)
        except Exception as exc:
            if not is_database_outage(exc):
                raise  # a query the database refused is a bug, not an outage
            logger.error("database unavailable: %s", getattr(exc, "orig", None) or exc)
            raise ProviderUnavailable() from exc

    return call


def _row(result_row: Any) -> dict[str, Any]:
    return dict(result_row._mapping)


class BetterStore:
    def __init__(self, database_url: str, clock: Callable[[], datetime] | None = None) -> None:
        self.database_url = database_url
        # Injectable for expiry tests (the session conformance suite's FakeClock).
        self._clock: Callable[[], datetime] = clock or utcnow

    def now(self) -> datetime:
        """The clock, truncated to milliseconds: what SQLite's ISO text keeps, so a value
        returned at creation equals the value read back."""
        value = self._clock()
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    @property
    def engine(self) -> AsyncEngine:
        # Looked up per call: engines are per URL and per event loop lifetime (tests dispose them).
        return get_engine(self.database_url)

    async def ready(self) -> AsyncEngine:
        engine = self.engine
        await ensure_schema(engine)
        return engine

    # -- users ----------------------------------------------------------------------------

    async def find_credential(self, email: str) -> tuple[dict[str, Any] | None, str | None]:
        """The user with ``email`` and its credential password hash, in one query."""
        engine = await self.ready()
        joined = USER.outerjoin(
            ACCOUNT, and_(ACCOUNT.c.userId == USER.c.id, ACCOUNT.c.providerId == "credential")
        )
        query = (
            select(USER, ACCOUNT.c.password.label("_password"))
            .select_from(joined)
            .where(USER.c.email == email)
        )
        async with engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None, None
        data = _row(row)
        return data, data.pop("_password")

    async def password_hash(self, user_id: str) -> str | None:
        engine = await self.ready()
        query = select(ACCOUNT.c.password).where(
            ACCOUNT.c.userId == user_id, ACCOUNT.c.providerId == "credential"
        )
        async with engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def get_user(self, user_id: str) -> dict[str, Any] | None:
        engine = await self.ready()
        async with engine.connect() as conn:
            row = (await conn.execute(select(USER).where(USER.c.id == user_id))).first()
        return _row(row) if row else None

    async def get_user_by_email(self, email: str) -> dict[str, Any] | None:
        engine = await self.ready()
        async with engine.connect() as conn:
            row = (await conn.execute(select(USER).where(USER.c.email == email))).first()
        return _row(row) if row else None

    async def get_users(self, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not user_ids:
            return {}
        engine = await self.ready()
        async with engine.connect() as conn:
            rows = (await conn.execute(select(USER).where(USER.c.id.in_(list(set(user_ids)))))).all()
        return {row.id: _row(row) for row in rows}

    async def list_users(self) -> list[dict[str, Any]]:
        engine = await self.ready()
        async with engine.connect() as conn:
            rows = (await conn.execute(select(USER).order_by(USER.c.createdAt, USER.c.id))).all()
        return [_row(row) for row in rows]

    async def count_users(self) -> int:
        engine = await self.ready()
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(USER))).scalar_one())

    async def create_user(
        self, *, email: str, name: str, password_hash: str, role: str | None, default_role: str
    ) -> dict[str, Any]:
        """Insert user + credential account in one transaction.

        With no explicit ``role`` the first user ever becomes ``owner``: the row is
        inserted first (taking SQLite's write lock), then counted, so two concurrent
        first sign-ups cannot both see an empty table; PostgreSQL serialises the same
        section with a transaction-scoped advisory lock.
        """
        engine = await self.ready()
        now = self.now()
        user_id = generate_id()
        values = {
            "id": user_id,
            "name": name,
            "email": email,
            "emailVerified": False,
            "image": None,
            "createdAt": now,
            "updatedAt": now,
            "role": role or default_role,
            "banned": False,
        }
        try:
            async with engine.begin() as conn:
                if is_postgres(engine):
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _OWNER_LOCK_KEY})
                await conn.execute(USER.insert().values(**values))
                await conn.execute(
                    ACCOUNT.insert().values(
                        id=generate_id(),
                        accountId=user_id,
                        providerId="credential",
                        userId=user_id,
                        password=password_hash,
                        createdAt=now,
                        updatedAt=now,
                    )
                )
                if role is None:
                    count = (await conn.execute(select(func.count()).select_from(USER))).scalar_one()
                    if count == 1:
                        values["role"] = "owner"
                        await conn.execute(update(USER).where(USER.c.id == user_id).values(role="owner"))
        except IntegrityError as exc:
            raise DuplicateEmail(email) from exc
        return values

    async def set_password(self, user_id: str, password_hash: str) -> None:
        """Replace (or create) the user's credential account password."""
        engine = await self.ready()
        now = self.now()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(ACCOUNT)
                .where(ACCOUNT.c.userId == user_id, ACCOUNT.c.providerId == "credential")
                .values(password=password_hash, updatedAt=now)
            )
            if result.rowcount == 0:
                await conn.execute(
                    ACCOUNT.insert().values(
                        id=generate_id(),
                        accountId=user_id,
                        providerId="credential",
                        userId=user_id,
                        password=password_hash,
                        createdAt=now,
                        updatedAt=now,
                    )
                )

    async def update_user(self, user_id: str, **values: Any) -> bool:
        engine = await self.ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(USER).where(USER.c.id == user_id).values(updatedAt=self.now(), **values)
            )
        return bool(result.rowcount)

    # -- sessions -------------------------------------------------------------------------

    async def insert_session(
        self, *, user_id: str, token: str, expires_at: datetime, ip: str | None, user_agent: str | None
    ) -> dict[str, Any]:
        engine = await self.ready()
        now = self.now()
        values = {
            "id": generate_id(),
            "expiresAt": expires_at,
            "token": token,
            "createdAt": now,
            "updatedAt": now,
            "ipAddress": ip or "",
            "userAgent": user_agent or "",
            "userId": user_id,
        }
        async with engine.begin() as conn:
            await conn.execute(SESSION.insert().values(**values))
        return values

    async def find_session(self, token: str) -> dict[str, Any] | None:
        engine = await self.ready()
        async with engine.connect() as conn:
            row = (await conn.execute(select(SESSION).where(SESSION.c.token == token))).first()
        return _row(row) if row else None

    async def touch_session(self, session_id: str, expires_at: datetime) -> None:
        engine = await self.ready()
        async with engine.begin() as conn:
            await conn.execute(
                update(SESSION)
                .where(SESSION.c.id == session_id)
                .values(expiresAt=expires_at, updatedAt=self.now())
            )

    async def delete_session_token(self, token: str) -> int:
        return await self._delete_sessions(SESSION.c.token == token)

    async def delete_session(self, user_id: str, session_id: str) -> int:
        return await self._delete_sessions(and_(SESSION.c.id == session_id, SESSION.c.userId == user_id))

    async def delete_user_sessions(self, user_id: str, except_id: str | None = None) -> int:
        condition = SESSION.c.userId == user_id
        if except_id is not None:
            condition = and_(condition, SESSION.c.id != except_id)
        return await self._delete_sessions(condition)

    async def _delete_sessions(self, condition: Any) -> int:
        engine = await self.ready()
        async with engine.begin() as conn:
            return int((await conn.execute(delete(SESSION).where(condition))).rowcount or 0)

    async def list_sessions(self, user_id: str) -> list[dict[str, Any]]:
        engine = await self.ready()
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(SESSION).where(SESSION.c.userId == user_id).order_by(SESSION.c.createdAt)
                )
            ).all()
        return [_row(row) for row in rows]

    # -- verification ---------------------------------------------------------------------

    async def insert_verification(self, identifier: str, value: str, expires_at: datetime) -> None:
        engine = await self.ready()
        now = self.now()
        async with engine.begin() as conn:
            await conn.execute(
                VERIFICATION.insert().values(
                    id=generate_id(),
                    identifier=identifier,
                    value=value,
                    expiresAt=expires_at,
                    createdAt=now,
                    updatedAt=now,
                )
            )

    async def consume_verification(self, identifier: str) -> str | None:
        """Delete the row and return its value, only if it existed and had not expired.

        The ``DELETE`` decides the race: of two concurrent consumers only the one
        whose delete removed the row gets the value (single use).
        """
        engine = await self.ready()
        async with engine.begin() as conn:
            row = (
                await conn.execute(select(VERIFICATION).where(VERIFICATION.c.identifier == identifier))
            ).first()
            if row is None:
                return None
            removed = await conn.execute(delete(VERIFICATION).where(VERIFICATION.c.id == row.id))
        if removed.rowcount != 1 or row.expiresAt is None or row.expiresAt <= self.now():
            return None
        return str(row.value)

    async def expire_verifications(self, prefix: str) -> int:
        """Test/ops helper: make every matching verification expired now."""
        engine = await self.ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(VERIFICATION)
                .where(VERIFICATION.c.identifier.startswith(prefix))
                .values(expiresAt=self.now())
            )
        return int(result.rowcount or 0)

    async def purge_expired_verifications(self) -> int:
        engine = await self.ready()
        async with engine.begin() as conn:
            result = await conn.execute(delete(VERIFICATION).where(VERIFICATION.c.expiresAt < self.now()))
        return int(result.rowcount or 0)
