"""Sessions in Better Auth's ``session`` table, behind Better Auth's signed cookie.

Used when ``session = better``. ``Session.id`` is the cookie value exactly as Better
Auth writes it (percent-encoded ``token.signature``), so a cookie issued by a Node
Better Auth server sharing the database validates here and the other way round.
``Session.handle`` is the row ``id`` (public); the token never leaves the cookie.

Lifetime: ``expiresAt`` slides by ``session_expires_in`` on refresh (Better Auth's
``expiresIn``) but never beyond ``createdAt + session_max_lifetime``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mastra.core.ee.models import Session

from .._cookie import BetterCookie, sign_token, unsign_value
from .._records import generate_id

if TYPE_CHECKING:
    from starlette.requests import Request

    from .._options import BetterOptions
    from ._store import BetterStore

__all__ = ["BetterSessionsMixin"]


class BetterSessionsMixin:
    options: BetterOptions
    store: BetterStore
    cookie: BetterCookie

    # -- helpers ----------------------------------------------------------------------------

    def _absolute_expiry(self, created_at: datetime) -> datetime:
        return created_at + timedelta(seconds=self.options.session_max_lifetime)

    def _session_from_row(self, row: dict[str, Any], session_id: str) -> Session:
        expires = min(row["expiresAt"], self._absolute_expiry(row["createdAt"]))
        metadata = {k: v for k, v in (("ip", row.get("ipAddress")), ("userAgent", row.get("userAgent"))) if v}
        return Session(
            id=session_id,
            user_id=row["userId"],
            created_at=row["createdAt"],
            expires_at=expires,
            last_seen_at=row["updatedAt"],
            handle=row["id"],
            metadata=metadata,
        )

    async def _live_row(self, session_id: str | None) -> dict[str, Any] | None:
        token = unsign_value(session_id, self.options.secret)
        if token is None:
            return None
        row = await self.store.find_session(token)
        if row is None:
            return None
        now = self.store.now()
        # SPEC 8.1: rejected when ``now > expiry``; the expiry instant itself is still valid.
        if now > row["expiresAt"] or now > self._absolute_expiry(row["createdAt"]):
            return None
        return row

    def signed_value_for_token(self, token: str) -> str:
        """A bearer token (no ``.``) in cookie form; a value already signed is kept."""
        return token if "." in token else sign_token(token, self.options.secret)

    # -- ISessionProvider -------------------------------------------------------------------

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        metadata = metadata or {}
        token = generate_id(32)
        expires = self.store.now() + timedelta(seconds=self.options.session_expires_in)
        row = await self.store.insert_session(
            user_id=user_id,
            token=token,
            expires_at=expires,
            ip=metadata.get("ip"),
            user_agent=metadata.get("userAgent"),
        )
        return self._session_from_row(row, sign_token(token, self.options.secret))

    async def validate_session(self, session_id: str) -> Session | None:
        row = await self._live_row(session_id)
        return self._session_from_row(row, session_id) if row else None

    async def refresh_session(self, session_id: str) -> Session | None:
        row = await self._live_row(session_id)
        if row is None:
            return None
        now = self.store.now()
        row["expiresAt"] = min(
            now + timedelta(seconds=self.options.session_expires_in), self._absolute_expiry(row["createdAt"])
        )
        row["updatedAt"] = now
        await self.store.touch_session(row["id"], row["expiresAt"])
        return self._session_from_row(row, session_id)

    async def destroy_session(self, session_id: str) -> None:
        token = unsign_value(session_id, self.options.secret)
        if token is not None:
            await self.store.delete_session_token(token)

    def get_session_id_from_request(self, request: Request) -> str | None:
        return self.cookie.read(request.headers.get("cookie"))

    def get_session_headers(self, session: Session) -> list[tuple[str, str]]:
        remaining = int((session.expires_at - self.store.now()).total_seconds())
        return [("set-cookie", self.cookie.set_header(session.id, remaining))]

    def get_clear_session_headers(self) -> list[tuple[str, str]]:
        return [("set-cookie", header) for header in self.cookie.clear_headers()]

    async def list_sessions(self, user_id: str) -> list[Session]:
        now = self.store.now()
        sessions = []
        for row in await self.store.list_sessions(user_id):
            if now <= row["expiresAt"] and now <= self._absolute_expiry(row["createdAt"]):
                # The handle doubles as ``id``: the secret token is never listed.
                sessions.append(self._session_from_row(row, row["id"]))
        return sessions

    async def revoke_session(self, user_id: str, handle: str) -> bool:
        return await self.store.delete_session(user_id, handle) > 0

    async def revoke_user_sessions(self, user_id: str, except_handle: str | None = None) -> int:
        return await self.store.delete_user_sessions(user_id, except_handle)
