"""Sealed ``wos_session`` cookie sessions (SPEC 10.1 "Sealed session").

The cookie holds ``{access_token, refresh_token, user, organization_id, impersonator}``
sealed with the SDK's Fernet sealing, so ``user_management.load_sealed_session`` can
open it too. Access tokens are verified against the WorkOS JWKS *before* they are
sealed (callback, refresh); afterwards the Fernet seal authenticates them, so reading
a session needs no network — valid sessions keep working while WorkOS is down, until
the access token expires. Refresh, revoke and logout go to WorkOS.

``SealedSessionMixin`` is part of :class:`~mastra.auth.workos.WorkOSAuthProvider`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from mastra.core.ee.crypto import (
    CookieSpec,
    JWKSCache,
    TokenInvalid,
    clear_cookie,
    parse_cookie_header,
    set_cookie,
    unverified_claims,
)
from mastra.core.ee.models import EEUser, Session
from mastra.core.ee.request_auth import presented_session

from workos._errors import WorkOSError
from workos.session import seal_data, unseal_data

from ._access_token import verify_access_token
from ._revocations import Revocations
from .users import map_user

if TYPE_CHECKING:
    from starlette.requests import Request

    from workos import AsyncWorkOSClient

    from ._options import WorkOSOptions

__all__ = ["SealedSessionMixin"]

logger = logging.getLogger("mastra.auth.workos")


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


class _Opened:
    """An unsealed cookie: its payload and the (seal-authenticated) token claims."""

    __slots__ = ("claims", "data")

    def __init__(self, data: dict[str, Any], claims: dict[str, Any]) -> None:
        self.data = data
        self.claims = claims

    @property
    def sid(self) -> str | None:
        sid = self.claims.get("sid")
        return sid if isinstance(sid, str) else None

    @property
    def auth_time(self) -> int | float | None:
        value = self.claims.get("auth_time", self.claims.get("iat"))
        return value if isinstance(value, int | float) else None


class SealedSessionMixin:
    client: AsyncWorkOSClient
    options: WorkOSOptions
    jwks: JWKSCache
    revocations: Revocations
    cookie: CookieSpec

    # -- sealing --------------------------------------------------------------------

    def seal_session(
        self,
        *,
        access_token: str,
        refresh_token: str,
        user: dict[str, Any],
        organization_id: str | None = None,
        impersonator: dict[str, Any] | None = None,
    ) -> str:
        data: dict[str, Any] = {"access_token": access_token, "refresh_token": refresh_token, "user": user}
        if organization_id is not None:
            data["organization_id"] = organization_id
        if impersonator is not None:
            data["impersonator"] = impersonator
        return seal_data(data, self.options.cookie_key)

    def _open(self, sealed: str | None) -> _Opened | None:
        """Unseal and read the access token's claims (no expiry check here)."""
        if not sealed:
            return None
        try:
            data = unseal_data(sealed, self.options.cookie_key)
        except Exception:
            return None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not isinstance(data.get("user"), dict):
            return None
        try:
            # The Fernet seal is authenticated and only verified tokens get sealed.
            claims = unverified_claims(token)
        except TokenInvalid:
            return None
        return _Opened(data, claims)

    def _live(self, opened: _Opened | None) -> bool:
        if opened is None:
            return False
        claims = opened.claims
        now = datetime.now(UTC).timestamp()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now:
            return False
        auth_time = opened.auth_time
        if auth_time is None or now - auth_time > self.options.absolute_timeout:
            return False
        user_id = opened.data["user"].get("id")
        return not self.revocations.is_revoked(sid=opened.sid, user_id=user_id, auth_time=auth_time)

    def _session_from(self, sealed: str, opened: _Opened) -> Session:
        claims = opened.claims
        org = claims.get("org_id") or opened.data.get("organization_id")
        created = _epoch(opened.auth_time) or datetime.now(UTC)
        user = self._user_from(opened)
        return Session(
            id=sealed,
            user_id=user.id,
            created_at=created,
            expires_at=datetime.fromtimestamp(created.timestamp() + self.options.absolute_timeout, UTC),
            last_seen_at=_epoch(claims.get("iat")),
            handle=opened.sid,
            user=user,
            metadata={k: v for k, v in {"workosSessionId": opened.sid, "organizationId": org}.items() if v},
        )

    def _user_from(self, opened: _Opened) -> EEUser:
        claims = opened.claims
        org = claims.get("org_id") or opened.data.get("organization_id")
        user = map_user(opened.data["user"], org)
        # Token claims for RBAC: the role(s) and permissions WorkOS put in the session.
        for claim, key in (
            ("role", "tokenRole"),
            ("roles", "tokenRoles"),
            ("permissions", "tokenPermissions"),
        ):
            if claims.get(claim) is not None:
                user.metadata[key] = claims[claim]
        if opened.sid:
            user.metadata["workosSessionId"] = opened.sid
        return user

    # -- ISessionProvider ------------------------------------------------------------------

    def get_session_id_from_request(self, request: Request) -> str | None:
        raw = parse_cookie_header(request.headers.get("cookie")).get(self.cookie.name)
        if not raw:
            return None
        try:
            return unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return raw

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        raise NotImplementedError("WorkOS sessions are created by the SSO callback (handle_callback)")

    async def validate_session(self, session_id: str) -> Session | None:
        opened = self._open(session_id)
        await self.revocations.refresh()
        if not self._live(opened):
            return None
        assert opened is not None
        return self._session_from(session_id, opened)

    async def refresh_session(self, session_id: str) -> Session | None:
        opened = self._open(session_id)
        if opened is None:
            return None
        user_id = opened.data["user"].get("id")
        await self.revocations.refresh()
        if self.revocations.is_revoked(sid=opened.sid, user_id=user_id, auth_time=opened.auth_time):
            return None
        auth_time = opened.auth_time
        if auth_time is None or datetime.now(UTC).timestamp() - auth_time > self.options.absolute_timeout:
            return None  # refresh never extends past the absolute lifetime (S3)
        refresh_token = opened.data.get("refresh_token")
        if not isinstance(refresh_token, str):
            return None
        org = opened.data.get("organization_id") or opened.claims.get("org_id")
        try:
            response = await self.client.user_management.authenticate_with_refresh_token(
                refresh_token=refresh_token, organization_id=org
            )
            # JWKSUnavailable propagates: WorkOS being unreachable is not a refusal
            await verify_access_token(self.jwks, response.access_token, issuer=self.options.jwt_issuer)
        except (WorkOSError, TokenInvalid, ValueError) as exc:
            logger.info("WorkOS session refresh failed: %s", type(exc).__name__)
            return None
        sealed = self.seal_session(
            access_token=response.access_token,
            refresh_token=response.refresh_token,
            user=response.user.to_dict(),
            organization_id=response.organization_id or org,
            impersonator=response.impersonator.to_dict() if response.impersonator else None,
        )
        return await self.validate_session(sealed)

    async def destroy_session(self, session_id: str) -> None:
        opened = self._open(session_id)
        if opened is None or opened.sid is None:
            return
        await self.revocations.revoke_session(opened.sid)
        try:
            await self.client.user_management.revoke_session(session_id=opened.sid)
        except (WorkOSError, ValueError) as exc:
            logger.warning("WorkOS revoke_session failed: %s", type(exc).__name__)

    async def _workos_sessions(self, user_id: str) -> list[Any]:
        page = await self.client.user_management.list_sessions(user_id)
        return [item async for item in page.auto_paging_iter()]

    async def list_sessions(self, user_id: str) -> list[Session]:
        """The user's active WorkOS sessions; ``id`` and ``handle`` are the public session id."""
        try:
            items = await self._workos_sessions(user_id)
        except (WorkOSError, ValueError) as exc:
            logger.warning("WorkOS list_sessions failed: %s", type(exc).__name__)
            return []
        now = datetime.now(UTC)
        sessions = []
        await self.revocations.refresh()
        for item in items:
            status = getattr(item.status, "value", item.status)
            if status != "active" or item.expires_at <= now:
                continue
            if self.revocations.is_revoked(sid=item.id, user_id=None, auth_time=None):
                continue
            meta = {"ip": item.ip_address, "userAgent": item.user_agent}
            sessions.append(
                Session(
                    id=item.id,
                    handle=item.id,
                    user_id=item.user_id,
                    created_at=item.created_at,
                    expires_at=item.expires_at,
                    last_seen_at=item.updated_at,
                    metadata={k: v for k, v in meta.items() if v is not None},
                )
            )
        return sessions

    async def revoke_session(self, user_id: str, handle: str) -> bool:
        """Revoke one of the user's sessions by its public id; ``False`` if not theirs/active."""
        if not any(s.handle == handle for s in await self.list_sessions(user_id)):
            return False
        await self.revocations.revoke_session(handle)
        try:
            await self.client.user_management.revoke_session(session_id=handle)
        except (WorkOSError, ValueError) as exc:
            logger.warning("WorkOS revoke_session failed: %s", type(exc).__name__)
        return True

    async def revoke_user_sessions(self, user_id: str, except_handle: str | None = None) -> int:
        """Revoke every WorkOS session of the user (directory sync deactivation, disable)."""
        if except_handle is None:
            await self.revocations.revoke_user(user_id)
        count = 0
        try:
            for item in await self._workos_sessions(user_id):
                status = getattr(item.status, "value", item.status)
                if item.id == except_handle or status != "active":
                    continue
                await self.revocations.revoke_session(item.id)
                await self.client.user_management.revoke_session(session_id=item.id)
                count += 1
        except (WorkOSError, ValueError) as exc:
            logger.warning("WorkOS session revocation for a user failed: %s", type(exc).__name__)
        return count

    def get_session_headers(self, session: Session) -> list[tuple[str, str]]:
        # No Max-Age: a browser-session cookie; WorkOS governs the session lifetime.
        return [("set-cookie", set_cookie(self.cookie, session.id, max_age=None))]

    def get_clear_session_headers(self) -> list[tuple[str, str]]:
        return [("set-cookie", clear_cookie(self.cookie))]

    async def get_logout_url(self, redirect_uri: str, request: Request) -> str | None:
        """Federated logout; readable even after ``destroy_session`` revoked the sid."""
        opened = self._open(self.get_session_id_from_request(request))
        if opened is None or opened.sid is None:
            return None
        return self.client.user_management.get_logout_url(session_id=opened.sid, return_to=redirect_uri)

    # -- IUserProvider (cookie and bearer) --------------------------------------------------

    async def get_current_user(self, request: Request) -> EEUser | None:
        """Same checks as ``load_sealed_session(...).authenticate()``, off the event loop's I/O,
        on the session the host already read for this request (else read here)."""
        session = await presented_session(request, self)
        if session is None or session.user is None:
            return None
        user = session.user
        if self.options.fetch_memberships:
            await self._attach_memberships(user)
        return user

    async def authenticate_token(self, token: str, request: Request | None = None) -> EEUser | None:
        try:
            claims = await verify_access_token(self.jwks, token, issuer=self.options.jwt_issuer)
        except TokenInvalid:  # JWKSUnavailable propagates: a 503-class failure, not a bad token
            return None
        sub, sid = claims.get("sub"), claims.get("sid")
        auth_time = claims.get("auth_time", claims.get("iat"))
        await self.revocations.refresh()
        if self.revocations.is_revoked(
            sid=sid if isinstance(sid, str) else None, user_id=sub, auth_time=auth_time
        ):
            return None
        user: EEUser | None = await self.get_user(str(sub))  # type: ignore[attr-defined]
        if user is None:
            return None
        if claims.get("org_id"):
            user.metadata["organizationId"] = claims["org_id"]
        for claim, key in (
            ("role", "tokenRole"),
            ("roles", "tokenRoles"),
            ("permissions", "tokenPermissions"),
        ):
            if claims.get(claim) is not None:
                user.metadata[key] = claims[claim]
        return user

    async def _attach_memberships(self, user: EEUser) -> None:
        memberships = await self.get_memberships(user.id)  # type: ignore[attr-defined]
        if memberships is None:
            return
        user.metadata["memberships"] = [
            {"organizationId": m["organization_id"], "roles": m["roles"]} for m in memberships
        ]
        orgs = {m["organization_id"] for m in memberships}
        if len(orgs) == 1 and "organizationId" not in user.metadata:
            user.metadata["organizationId"] = orgs.pop()
