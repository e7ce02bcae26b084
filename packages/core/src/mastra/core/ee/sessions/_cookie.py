"""``cookie`` session provider (SPEC 8.3): a sealed cookie plus the session registry.

Cookie value: ``v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`` (AES-256-GCM from
:class:`mastra.core.ee.crypto.Sealer`), associated data = the cookie's final name,
plaintext = compact JSON ``{"sid","uid","iat","exp","last","meta"}``.

Design of ``sid``: it is the session **secret** (256 random bits), and the registry
row is found by ``SHA-256(sid)``. So

* revoking the row (logout, revoke, disable, password reset) kills the cookie in every
  process sharing the registry, because every validation reads the row;
* the registry never holds anything that could be replayed as a cookie, and the public
  handle is not in the cookie: even someone holding the sealing key cannot mint a
  cookie for a live session without also knowing that session's secret.

``meta`` carries the caller's metadata except ``ip`` and ``userAgent``, which go to
the registry columns only. If the cookie would reach 4096 bytes, the largest ``meta``
entries are dropped (with a warning naming the keys) rather than failing a sign-in;
``create_session``'s result shows what was kept.

With ``registry = none`` (development only) a cookie is valid on its seal and times
alone: logout cannot revoke it and sessions cannot be listed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, ClassVar

from pydantic import Field

from ..cache import TTLCache
from ..crypto import Sealer, sha256_hex
from ..models import Session
from ..options import Fallbacks, ListOption, as_provider_options
from ._base import Clock, RegistrySessionProvider
from ._registry import SessionRecord, SessionRegistry
from ._session_cookie import (
    DEFAULT_ABSOLUTE_TIMEOUT,
    DEFAULT_COOKIE_NAME,
    DEFAULT_IDLE_TIMEOUT,
    MAX_COOKIE_BYTES,
    SessionCookie,
    SessionOptions,
    build_registry,
)

__all__ = ["CookieSessionOptions", "CookieSessionProvider"]

logger = logging.getLogger("mastra.ee.sessions")

_REGISTRY_ONLY_KEYS = ("ip", "userAgent")
# Opened cookie values kept (see ``unseal``): bounded, and forgotten after a while.
_OPENED_MAX = 10_000
_OPENED_TTL = 300.0


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _from_epoch(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40


class CookieSessionOptions(SessionOptions):
    """SPEC 8.3: ``secret`` (else ``MASTRA_AUTH_SECRET``; its length is checked by the
    sealer, with SPEC's exact message) and ``previous_secrets`` for rotation."""

    provider_name = "cookie"
    fallbacks: ClassVar[Fallbacks] = {"secret": (attrgetter("secret"),)}

    secret: str | None = Field(default=None, repr=False)
    previous_secrets: ListOption = Field(default_factory=list, repr=False)


@dataclass(slots=True)
class _Payload:
    sid: str
    uid: str
    iat: int
    exp: int
    last: int
    meta: dict[str, Any]

    @classmethod
    def parse(cls, data: Any) -> _Payload | None:
        """Strict shape check: anything unexpected means the cookie is not ours."""
        if not isinstance(data, dict):
            return None
        sid, uid, meta = data.get("sid"), data.get("uid"), data.get("meta", {})
        times = [data.get(k) for k in ("iat", "exp", "last")]
        if not (isinstance(sid, str) and sid and isinstance(uid, str) and uid and isinstance(meta, dict)):
            return None
        if not all(_is_int(t) for t in times):
            return None
        return cls(sid, uid, times[0], times[1], times[2], meta)  # type: ignore[arg-type]

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "uid": self.uid,
            "iat": self.iat,
            "exp": self.exp,
            "last": self.last,
            "meta": self.meta,
        }


class CookieSessionProvider(RegistrySessionProvider):
    """Sealed-cookie sessions backed by a registry. ``Session.id`` is the sealed value."""

    def __init__(
        self,
        *,
        secret: str | None,
        previous_secrets: Sequence[str] = (),
        registry: SessionRegistry | None,
        idle_timeout: int = DEFAULT_IDLE_TIMEOUT,
        absolute_timeout: int = DEFAULT_ABSOLUTE_TIMEOUT,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        cookie_domain: str | None = None,
        production: bool = False,
        public_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        # Sealer raises ValueError with the exact SPEC 8.3 text for short/missing secrets.
        self.sealer = Sealer([secret or "", *previous_secrets], info="aes-256-gcm", salt="mastra-session")
        # Values already opened (successes only: failures cost an attacker, not a cache slot).
        self._opened: TTLCache[str, tuple[Sealer, _Payload]] = TTLCache(ttl=_OPENED_TTL, max_size=_OPENED_MAX)
        super().__init__(
            cookie=SessionCookie.create(
                cookie_name, production=production, public_url=public_url, domain=cookie_domain
            ),
            registry=registry,
            idle_timeout=idle_timeout,
            absolute_timeout=absolute_timeout,
            clock=clock,
        )

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CookieSessionProvider:
        parsed = as_provider_options(options).parse(CookieSessionOptions)
        settings = parsed.settings
        return cls(
            secret=parsed.secret,
            previous_secrets=parsed.previous_secrets,
            registry=build_registry(parsed.registry, settings, default="sql"),
            idle_timeout=parsed.idle_timeout,
            absolute_timeout=parsed.absolute_timeout,
            cookie_name=parsed.cookie_name,
            cookie_domain=parsed.cookie_domain,
            production=settings.is_production,
            public_url=settings.public_url,
        )

    # -- sealing ------------------------------------------------------------------

    def seal(self, payload: _Payload) -> str:
        """Seal ``payload``, dropping the largest ``meta`` entries until the cookie fits."""
        while True:
            value = self.sealer.seal_json(payload.as_json(), aad=self.cookie.name)
            if self.cookie.fits(value):
                return value
            if not payload.meta:
                raise ValueError(f"session cookie would exceed {MAX_COOKIE_BYTES} bytes")
            largest = max(payload.meta, key=lambda k: len(repr(payload.meta[k])) + len(k))
            logger.warning("session metadata key %r dropped: the cookie would exceed 4096 bytes", largest)
            payload.meta = {k: v for k, v in payload.meta.items() if k != largest}

    def unseal(self, value: Any) -> _Payload | None:
        """The payload of a sealed value, or ``None`` for anything that is not one of ours.

        A value that opened once opens the same way again under the same keys (they are
        fixed for this provider's life), so successes are remembered by the exact value:
        a browser presents one cookie on every request, and the registry row, the
        expiry times and the revocation are still checked each time by the caller.
        """
        if not isinstance(value, str) or not value or not self.cookie.fits(value):
            return None
        known = self._opened.get(value)
        if known is not None and known[0] is self.sealer:  # a replaced sealer opens anew
            return replace(known[1], meta=dict(known[1].meta))  # callers may change their copy
        try:
            data = self.sealer.unseal_json(value, aad=self.cookie.name)
        except Exception:  # any failure (format, kid, base64, tag, JSON) is "not a session"
            return None
        payload = _Payload.parse(data)
        if payload is not None:
            self._opened.set(value, (self.sealer, replace(payload, meta=dict(payload.meta))))
        return payload

    # -- validation ---------------------------------------------------------------

    async def _resolve(self, session_id: Any) -> tuple[_Payload, SessionRecord | None] | None:
        payload = self.unseal(session_id)
        if payload is None:
            return None
        now = self.now()
        created = _from_epoch(payload.iat)
        if now > _from_epoch(payload.exp) or now > self.absolute_expiry(created):
            return None
        if self.registry is None:
            if self.is_expired(now, created, _from_epoch(payload.last)):
                return None
            return payload, None
        record = await self.registry.find_by_token_hash(sha256_hex(payload.sid))
        if not self.record_is_valid(record, now, payload.uid):
            return None
        return payload, record

    def _session(self, value: str, payload: _Payload, record: SessionRecord | None) -> Session:
        created = _from_epoch(payload.iat)
        last = record.last_seen_at if record is not None else _from_epoch(payload.last)
        return Session(
            id=value,
            handle=record.handle if record is not None else None,
            user_id=payload.uid,
            created_at=created,
            last_seen_at=last,
            expires_at=self.expires_at(created, last, _from_epoch(payload.exp)),
            metadata=dict(payload.meta),
        )

    # -- ISessionProvider ---------------------------------------------------------

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        meta = dict(metadata or {})
        secret, record = await self.new_record(user_id, meta)
        payload = _Payload(
            sid=secret,
            uid=user_id,
            iat=_epoch(record.created_at),
            exp=_epoch(record.expires_at),
            last=_epoch(record.last_seen_at),
            meta={k: v for k, v in meta.items() if k not in _REGISTRY_ONLY_KEYS},
        )
        try:
            value = self.seal(payload)
        except ValueError:
            if self.registry is not None:
                await self.registry.revoke_by_token_hash(record.token_hash, record.created_at)
            raise
        return self._session(value, payload, record if self.registry is not None else None)

    async def validate_session(self, session_id: str) -> Session | None:
        resolved = await self._resolve(session_id)
        if resolved is None:
            return None
        return self._session(session_id, *resolved)

    async def refresh_session(self, session_id: str) -> Session | None:
        """Re-seal with ``last = now`` under the current key (rotation happens here)."""
        resolved = await self._resolve(session_id)
        if resolved is None:
            return None
        payload, record = resolved
        now = self.now()
        if record is not None:
            await self.touch_if_due(record, now)
        payload.last = _epoch(now)
        return self._session(self.seal(payload), payload, record)

    async def destroy_session(self, session_id: str) -> None:
        payload = self.unseal(session_id)
        if payload is None or self.registry is None:
            return
        await self.registry.revoke_by_token_hash(sha256_hex(payload.sid), self.now())
