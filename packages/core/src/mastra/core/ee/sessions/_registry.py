"""The session registry (SPEC 8.1): one row per session, keyed by a public handle.

The registry is the server-side truth both default providers consult on every
validation, so revoking a row kills the session in every process that shares the
store. It never holds a session secret, only its SHA-256 (S2).

Variants: :class:`MemorySessionRegistry` (process dict) and, in ``_sql``,
:class:`SQLSessionRegistry` (table ``mastra_sessions`` on the project database).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

__all__ = ["MemorySessionRegistry", "SessionRecord", "SessionRegistry"]

# Column limits shared by every variant: a hostile User-Agent must not bloat storage.
MAX_IP_LENGTH = 64
MAX_USER_AGENT_LENGTH = 512


def clip(value: Any, limit: int) -> str | None:
    """A string column value: ``None`` stays ``None``, anything else is text cut to ``limit``."""
    if value is None:
        return None
    text = str(value)
    return text[:limit] if text else None


@dataclass(slots=True)
class SessionRecord:
    """One registry row. ``expires_at`` is the absolute expiry; idle expiry is the
    provider's business (it knows ``idle_timeout``)."""

    handle: str
    token_hash: str = field(repr=False)
    user_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    revoked_at: datetime | None = None
    # Kept only by the memory variant (the memory provider's sessions live here).
    metadata: dict[str, Any] = field(default_factory=dict)

    def is_live(self, now: datetime, idle_cutoff: datetime) -> bool:
        return self.revoked_at is None and now <= self.expires_at and self.last_seen_at >= idle_cutoff


class SessionRegistry(abc.ABC):
    """Storage contract of the registry. Every method is a coroutine; ``now`` and the
    idle cutoff always come from the provider so an injected clock reaches storage."""

    @abc.abstractmethod
    async def insert(self, record: SessionRecord) -> None: ...

    @abc.abstractmethod
    async def find_by_token_hash(self, token_hash: str) -> SessionRecord | None:
        """The row for a secret's hash, revoked or not (the caller decides)."""

    @abc.abstractmethod
    async def touch(self, handle: str, when: datetime) -> None:
        """Set ``last_seen_at`` (the provider throttles calls to once per 60 s)."""

    @abc.abstractmethod
    async def revoke_by_token_hash(self, token_hash: str, when: datetime) -> None:
        """Idempotent: an unknown or already revoked row is left alone."""

    @abc.abstractmethod
    async def revoke_handle(self, user_id: str, handle: str, now: datetime, idle_cutoff: datetime) -> bool:
        """Revoke one live session of ``user_id``; ``False`` if it is not a live session of that user."""

    @abc.abstractmethod
    async def revoke_user(
        self, user_id: str, now: datetime, idle_cutoff: datetime, except_handle: str | None = None
    ) -> int:
        """Revoke every live session of ``user_id`` (but ``except_handle``); returns the count."""

    @abc.abstractmethod
    async def list_live(self, user_id: str, now: datetime, idle_cutoff: datetime) -> list[SessionRecord]:
        """Live sessions of ``user_id``, most recently seen first."""

    @abc.abstractmethod
    async def purge(self, now: datetime, idle_cutoff: datetime, revoked_before: datetime) -> int:
        """Delete rows that can never validate again; returns how many."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release resources (engines are shared and disposed by ``mastra.core.ee.db``)."""


class MemorySessionRegistry(SessionRegistry):
    """Process-local registry: a dict keyed by the secret's SHA-256, plus a handle index.

    Lost on restart and not shared between workers; records are copied in and out so
    callers never mutate the stored row by accident.
    """

    def __init__(self) -> None:
        self._by_hash: dict[str, SessionRecord] = {}
        self._by_handle: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_hash)

    async def insert(self, record: SessionRecord) -> None:
        if record.token_hash in self._by_hash or record.handle in self._by_handle:
            raise ValueError("duplicate session handle or token hash")
        stored = replace(record, metadata=dict(record.metadata))
        self._by_hash[record.token_hash] = stored
        self._by_handle[record.handle] = record.token_hash

    async def find_by_token_hash(self, token_hash: str) -> SessionRecord | None:
        record = self._by_hash.get(token_hash)
        return replace(record, metadata=dict(record.metadata)) if record else None

    def _by_handle_record(self, handle: str) -> SessionRecord | None:
        token_hash = self._by_handle.get(handle)
        return self._by_hash.get(token_hash) if token_hash else None

    async def touch(self, handle: str, when: datetime) -> None:
        record = self._by_handle_record(handle)
        if record is not None and record.revoked_at is None:
            record.last_seen_at = when

    async def revoke_by_token_hash(self, token_hash: str, when: datetime) -> None:
        record = self._by_hash.get(token_hash)
        if record is not None and record.revoked_at is None:
            record.revoked_at = when

    async def revoke_handle(self, user_id: str, handle: str, now: datetime, idle_cutoff: datetime) -> bool:
        record = self._by_handle_record(handle)
        if record is None or record.user_id != user_id or not record.is_live(now, idle_cutoff):
            return False
        record.revoked_at = now
        return True

    async def revoke_user(
        self, user_id: str, now: datetime, idle_cutoff: datetime, except_handle: str | None = None
    ) -> int:
        count = 0
        for record in self._by_hash.values():
            if (
                record.user_id == user_id
                and record.handle != except_handle
                and record.is_live(now, idle_cutoff)
            ):
                record.revoked_at = now
                count += 1
        return count

    async def list_live(self, user_id: str, now: datetime, idle_cutoff: datetime) -> list[SessionRecord]:
        live = [
            replace(r, metadata=dict(r.metadata))
            for r in self._by_hash.values()
            if r.user_id == user_id and r.is_live(now, idle_cutoff)
        ]
        return sorted(live, key=lambda r: (r.last_seen_at, r.created_at), reverse=True)

    async def purge(self, now: datetime, idle_cutoff: datetime, revoked_before: datetime) -> int:
        dead = [
            r
            for r in self._by_hash.values()
            if (r.revoked_at is not None and r.revoked_at <= revoked_before)
            or now > r.expires_at
            or r.last_seen_at < idle_cutoff
        ]
        for record in dead:
            self._by_hash.pop(record.token_hash, None)
            self._by_handle.pop(record.handle, None)
        return len(dead)
