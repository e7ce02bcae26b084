"""Behaviour shared by the registry-backed session providers (SPEC 3.2, 8.1, S3).

Time rules, in one place:

* a session lives at most ``absolute_timeout`` seconds after creation, whatever happens;
* it dies ``idle_timeout`` seconds after its last refresh (``last_seen_at``);
* ``refresh_session`` moves ``last_seen_at`` to now but the registry write happens at
  most once per :data:`TOUCH_INTERVAL` seconds per session, so idle expiry is precise
  to within that interval;
* ``Session.expires_at`` is the earlier of the two expiries and never passes the
  absolute one.

All timestamps are whole UTC seconds (the sealed cookie stores epoch seconds); the
clock is injectable (``clock`` argument/attribute) so tests move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..crypto import new_handle, new_secret, sha256_hex
from ..models import Session, utcnow
from ._registry import MAX_IP_LENGTH, MAX_USER_AGENT_LENGTH, SessionRecord, SessionRegistry, clip
from ._session_cookie import SessionCookie

__all__ = ["TOUCH_INTERVAL", "RegistrySessionProvider"]

TOUCH_INTERVAL = 60
# Revoked rows are kept a day for operators, then purged.
REVOKED_RETENTION = timedelta(days=1)

Clock = Callable[[], datetime]


class RegistrySessionProvider:
    """Base class: cookie handling, timeouts, and the optional list/revoke methods."""

    def __init__(
        self,
        *,
        cookie: SessionCookie,
        registry: SessionRegistry | None,
        idle_timeout: int,
        absolute_timeout: int,
        clock: Clock | None = None,
    ) -> None:
        self.cookie = cookie
        self.registry = registry
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.clock: Clock = clock or utcnow

    # -- time ---------------------------------------------------------------------

    def now(self) -> datetime:
        value = self.clock()
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(microsecond=0)

    def idle_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.idle_timeout)

    def absolute_expiry(self, created_at: datetime) -> datetime:
        return created_at + timedelta(seconds=self.absolute_timeout)

    def expires_at(
        self, created_at: datetime, last_seen_at: datetime, absolute: datetime | None = None
    ) -> datetime:
        absolute = min(absolute or self.absolute_expiry(created_at), self.absolute_expiry(created_at))
        return min(last_seen_at + timedelta(seconds=self.idle_timeout), absolute)

    def is_expired(self, now: datetime, created_at: datetime, last_seen_at: datetime) -> bool:
        return now > self.absolute_expiry(created_at) or now > last_seen_at + timedelta(
            seconds=self.idle_timeout
        )

    # -- registry helpers ---------------------------------------------------------

    async def new_record(self, user_id: str, metadata: dict[str, Any]) -> tuple[str, SessionRecord]:
        """A fresh 256-bit secret and its registry row (inserted when there is a registry)."""
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty string")
        now = self.now()
        secret = new_secret(32)
        record = SessionRecord(
            handle=new_handle(),
            token_hash=sha256_hex(secret),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=self.absolute_expiry(now),
            ip=clip(metadata.get("ip"), MAX_IP_LENGTH),
            user_agent=clip(metadata.get("userAgent"), MAX_USER_AGENT_LENGTH),
            metadata=dict(metadata),
        )
        if self.registry is not None:
            await self.registry.insert(record)
        return secret, record

    def record_is_valid(
        self, record: SessionRecord | None, now: datetime, user_id: str | None = None
    ) -> bool:
        if record is None or record.revoked_at is not None:
            return False
        if user_id is not None and record.user_id != user_id:
            return False
        if now > record.expires_at:
            return False
        return not self.is_expired(now, record.created_at, record.last_seen_at)

    async def touch_if_due(self, record: SessionRecord, now: datetime) -> datetime:
        """Write ``last_seen_at`` unless it was written less than a minute ago; returns it."""
        if self.registry is None or (now - record.last_seen_at).total_seconds() < TOUCH_INTERVAL:
            return record.last_seen_at
        await self.registry.touch(record.handle, now)
        record.last_seen_at = now
        return now

    # -- cookie accessors (SPEC 3.2) ---------------------------------------------

    def get_session_id_from_request(self, request: Any) -> str | None:
        return self.cookie.read(request)

    def get_session_headers(self, session: Session) -> list[tuple[str, str]]:
        if not session.id:
            return []
        remaining = (self.absolute_expiry(session.created_at) - self.now()).total_seconds()
        return [self.cookie.set_header(session.id, int(remaining))]

    def get_clear_session_headers(self) -> list[tuple[str, str]]:
        return [self.cookie.clear_header()]

    # -- listing and revocation (optional in SPEC 3.2) -----------------------------

    async def list_sessions(self, user_id: str) -> list[Session]:
        """Live sessions; ``id`` is the public handle, never the secret."""
        if self.registry is None:
            return []
        now = self.now()
        records = await self.registry.list_live(user_id, now, self.idle_cutoff(now))
        sessions = []
        for record in records:
            if not self.record_is_valid(record, now, user_id):
                continue
            sessions.append(
                Session(
                    id=record.handle,
                    handle=record.handle,
                    user_id=record.user_id,
                    created_at=record.created_at,
                    last_seen_at=record.last_seen_at,
                    expires_at=self.expires_at(record.created_at, record.last_seen_at, record.expires_at),
                    metadata={"ip": record.ip, "userAgent": record.user_agent},
                )
            )
        return sessions

    async def revoke_session(self, user_id: str, handle: str) -> bool:
        if self.registry is None or not isinstance(handle, str) or not handle:
            return False
        now = self.now()
        return await self.registry.revoke_handle(user_id, handle, now, self.idle_cutoff(now))

    async def revoke_user_sessions(self, user_id: str, except_handle: str | None = None) -> int:
        if self.registry is None:
            return 0
        now = self.now()
        return await self.registry.revoke_user(user_id, now, self.idle_cutoff(now), except_handle)

    async def purge_expired(self) -> int:
        """Delete registry rows that can never validate again."""
        if self.registry is None:
            return 0
        now = self.now()
        return await self.registry.purge(now, self.idle_cutoff(now), now - REVOKED_RETENTION)
