"""``memory`` session provider (SPEC 8.2): an opaque 256-bit secret in the cookie,
sessions in a process dict keyed by the secret's SHA-256.

For a single process only: sessions vanish on restart and are not shared between
workers (hence the production warning). Use ``cookie`` with the SQL registry for
anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Mapping
from typing import Any

from pydantic import model_validator

from ..audit._options import MemoryAuditOptions
from ..crypto import sha256_hex
from ..errors import ConfigurationError
from ..models import Session
from ..options import as_provider_options
from ._base import Clock, RegistrySessionProvider
from ._registry import MemorySessionRegistry, SessionRecord
from ._session_cookie import (
    DEFAULT_ABSOLUTE_TIMEOUT,
    DEFAULT_COOKIE_NAME,
    DEFAULT_IDLE_TIMEOUT,
    MAX_COOKIE_BYTES,
    SessionCookie,
    SessionOptions,
)

__all__ = ["PRODUCTION_WARNING", "MemoryOptions", "MemorySessionProvider"]

logger = logging.getLogger("mastra.ee.sessions")

PRODUCTION_WARNING = (
    "[MemorySessionProvider] In-memory sessions are lost on restart and are not shared between workers."
)
CLEANUP_INTERVAL = 60.0


class MemoryOptions(SessionOptions, MemoryAuditOptions):
    """``[auth.options.memory]``. Two built-in providers share the name ``memory`` (the
    session provider, SPEC 8.2, and the audit storage, SPEC 8.6) and the host hands
    every capability of one name the same table, so both validate it with this model:
    a key of either is valid for both."""

    provider_name = "memory"

    @model_validator(mode="after")
    def _registry_is_memory(self) -> MemoryOptions:
        registry = (self.registry or "memory").strip().lower()
        if registry != "memory":
            raise ConfigurationError(
                f"The memory session provider keeps sessions in process memory (registry '{registry}' "
                "is not supported); use MASTRA_AUTH__SESSION=cookie for a shared registry."
            )
        return self


async def _cleanup_forever(provider_ref: weakref.ref[MemorySessionProvider]) -> None:
    # Holds only a weak reference between runs so a dropped provider is collected
    # and the task ends on its own.
    while True:
        provider = provider_ref()
        if provider is None:
            return
        interval = provider.cleanup_interval
        del provider
        await asyncio.sleep(interval)
        provider = provider_ref()
        if provider is None:
            return
        try:
            await provider.purge_expired()
        except Exception:  # pragma: no cover - defensive: never kill the loop
            logger.exception("session cleanup failed")
        del provider


class MemorySessionProvider(RegistrySessionProvider):
    """Opaque-secret sessions held in memory. ``Session.id`` is the secret itself."""

    def __init__(
        self,
        *,
        idle_timeout: int = DEFAULT_IDLE_TIMEOUT,
        absolute_timeout: int = DEFAULT_ABSOLUTE_TIMEOUT,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        cookie_domain: str | None = None,
        production: bool = False,
        public_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            cookie=SessionCookie.create(
                cookie_name, production=production, public_url=public_url, domain=cookie_domain
            ),
            registry=MemorySessionRegistry(),
            idle_timeout=idle_timeout,
            absolute_timeout=absolute_timeout,
            clock=clock,
        )
        self.cleanup_interval = CLEANUP_INTERVAL
        self._cleanup_task: asyncio.Task[None] | None = None
        if production:
            logger.warning(PRODUCTION_WARNING)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MemorySessionProvider:
        parsed = as_provider_options(options).parse(MemoryOptions)
        settings = parsed.settings
        return cls(
            idle_timeout=parsed.idle_timeout,
            absolute_timeout=parsed.absolute_timeout,
            cookie_name=parsed.cookie_name,
            cookie_domain=parsed.cookie_domain,
            production=settings.is_production,
            public_url=settings.public_url,
        )

    # -- background cleanup -------------------------------------------------------

    def _ensure_cleanup(self) -> None:
        """Start the purge loop lazily, on first use inside a running loop (never at import)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._cleanup_task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._cleanup_task = loop.create_task(
            _cleanup_forever(weakref.ref(self)), name="mastra-session-cleanup"
        )

    @property
    def cleanup_running(self) -> bool:
        return self._cleanup_task is not None and not self._cleanup_task.done()

    async def aclose(self) -> None:
        """Stop the cleanup loop (tests, shutdown)."""
        task, self._cleanup_task = self._cleanup_task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- ISessionProvider ---------------------------------------------------------

    def _session(self, secret: str, record: SessionRecord) -> Session:
        return Session(
            id=secret,
            handle=record.handle,
            user_id=record.user_id,
            created_at=record.created_at,
            last_seen_at=record.last_seen_at,
            expires_at=self.expires_at(record.created_at, record.last_seen_at, record.expires_at),
            metadata=dict(record.metadata),
        )

    async def _lookup(self, session_id: Any) -> SessionRecord | None:
        if not isinstance(session_id, str) or not session_id or len(session_id) >= MAX_COOKIE_BYTES:
            return None
        assert self.registry is not None
        record = await self.registry.find_by_token_hash(sha256_hex(session_id))
        return record if self.record_is_valid(record, self.now()) else None

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        self._ensure_cleanup()
        secret, record = await self.new_record(user_id, dict(metadata or {}))
        return self._session(secret, record)

    async def validate_session(self, session_id: str) -> Session | None:
        self._ensure_cleanup()
        record = await self._lookup(session_id)
        return self._session(session_id, record) if record else None

    async def refresh_session(self, session_id: str) -> Session | None:
        self._ensure_cleanup()
        record = await self._lookup(session_id)
        if record is None:
            return None
        await self.touch_if_due(record, self.now())
        return self._session(session_id, record)

    async def destroy_session(self, session_id: str) -> None:
        if not isinstance(session_id, str) or not session_id:
            return
        assert self.registry is not None
        await self.registry.revoke_by_token_hash(sha256_hex(session_id), self.now())
