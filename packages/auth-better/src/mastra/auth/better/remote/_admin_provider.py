"""``AdminRemoteBetterAuth``: remote mode with an admin account (``admin_email``).

Adds what Better Auth's public API cannot do for another user, through its ``admin``
plugin: ``get_user`` by id and the core's session management
(:class:`~mastra.core.ee.interfaces.SupportsSessionListing`: ``GET/DELETE
/auth/sessions``, operator revocation, revocation after a password reset or when a
user is disabled). ``RemoteBetterAuth.from_options`` picks this class when the
options name an admin account, so the host offers session management only when it
works.

A listed session's ``id`` is its handle (Better Auth's session id), never its token:
the token is what the session cookie carries. Revoking one session looks its token
up by handle, scoped to the user, so a handle of another user's session is "not
found".
"""

from __future__ import annotations

from typing import Any

from mastra.core.ee.models import EEUser, Session, utcnow

from .._records import user_from_better
from ..embedded._schema import parse_date
from ._admin import BetterAdminApi
from ._provider import RemoteBetterAuth

__all__ = ["AdminRemoteBetterAuth"]

_MAX_ID_LENGTH = 256


def _listed_session(raw: dict[str, Any]) -> Session | None:
    handle = str(raw.get("id") or "")
    expires_at = parse_date(raw.get("expiresAt"))
    if not handle or expires_at is None or expires_at <= utcnow():
        return None  # Better Auth deletes expired rows lazily; they are not live sessions
    metadata = {k: v for k, v in (("ip", raw.get("ipAddress")), ("userAgent", raw.get("userAgent"))) if v}
    return Session(
        id=handle,
        user_id=str(raw.get("userId")),
        created_at=parse_date(raw.get("createdAt")) or utcnow(),
        expires_at=expires_at,
        last_seen_at=parse_date(raw.get("updatedAt")),
        handle=handle,
        metadata=metadata,
    )


class AdminRemoteBetterAuth(RemoteBetterAuth):
    def __init__(self, options: Any, settings: Any = None) -> None:
        super().__init__(options, settings)
        self.admin = BetterAdminApi(self.client, options)

    async def get_user(self, user_id: str) -> EEUser | None:
        if not user_id or len(user_id) > _MAX_ID_LENGTH:
            return None
        data = await self.admin.get_user(user_id)
        return user_from_better(data) if data is not None else None

    # -- SupportsSessionListing ---------------------------------------------------------------

    async def _live(self, user_id: str) -> list[tuple[Session, str]]:
        """The user's live sessions with their tokens (the tokens never leave this class)."""
        if not user_id or len(user_id) > _MAX_ID_LENGTH:
            return []
        live = []
        for raw in await self.admin.list_user_sessions(user_id):
            session = _listed_session(raw)
            if session is not None and raw.get("token"):
                live.append((session, str(raw["token"])))
        return live

    async def list_sessions(self, user_id: str) -> list[Session]:
        return [session for session, _ in await self._live(user_id)]

    async def revoke_session(self, user_id: str, handle: str) -> bool:
        for session, token in await self._live(user_id):
            if session.handle == handle:
                await self.admin.revoke_session_token(token)
                return True
        return False

    async def revoke_user_sessions(self, user_id: str, except_handle: str | None = None) -> int:
        live = await self._live(user_id)
        doomed = [token for session, token in live if session.handle != except_handle]
        if not doomed:
            return 0
        if len(doomed) == len(live):
            await self.admin.revoke_user_sessions(user_id)  # one call, expired rows included
        else:
            for token in doomed:
                await self.admin.revoke_session_token(token)
        return len(doomed)
