"""``RemoteBetterAuth``: user, credentials and session provider backed by a running
Better Auth server's REST API (SPEC 10.2 remote mode).

The session is Better Auth's own (``owns_sessions``; ``session = better`` is
required): ``Session.id`` is the signed ``<prefix>.session_token`` cookie value, and
Better Auth's ``Set-Cookie`` headers are passed through to the browser. Bearer
tokens (Better Auth's bare session tokens) are signed into that cookie value first.

Limits of the public REST API (documented, not worked around): ``create_session`` for
an arbitrary user is impossible and raises ``NotImplementedError``; ``reset_password``
cannot learn the user id and returns ``""``, so the reset revokes the user's sessions
only when the Better Auth server sets ``emailAndPassword.revokeSessionsOnPasswordReset``
(required for remote mode: the package README). Without an admin account
``get_user`` answers ``None`` and there is no session management; with one,
``from_options`` returns :class:`~._admin_provider.AdminRemoteBetterAuth`, which has
both through Better Auth's ``admin`` plugin.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mastra.core.ee.errors import (
    InvalidCredentials,
    InvalidResetToken,
    PasswordPolicyError,
    SignUpDisabled,
    SignUpFailed,
)
from mastra.core.ee.models import CredentialsResult, EEUser, Session, utcnow
from mastra.core.ee.options import as_provider_options
from mastra.core.ee.policy import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_display_text,
    check_password_policy,
)
from mastra.core.ee.request_auth import presented_session

from .._cookie import BetterCookie, sign_token
from .._options import BetterOptions
from .._records import is_valid_email, normalise_email, user_from_better
from ..embedded._schema import parse_date
from ._client import BetterAuthClient, BetterResponse

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["RemoteBetterAuth"]

logger = logging.getLogger("mastra.auth.better")

_MAX_PASSWORD_BYTES = 4096


class RemoteBetterAuth:
    owns_sessions = True
    provider_name = "better"

    def __init__(self, options: BetterOptions, settings: Any = None) -> None:
        self.options = options
        self.settings = settings
        self.client = BetterAuthClient(options, settings)
        assert options.base_url is not None
        self.cookie = BetterCookie.create(options.cookie_prefix, settings, server_url=options.base_url)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RemoteBetterAuth:
        parsed = as_provider_options(options).parse(BetterOptions)
        if parsed.has_admin and cls is RemoteBetterAuth:
            from ._admin_provider import AdminRemoteBetterAuth

            return AdminRemoteBetterAuth(parsed, parsed.settings)
        return cls(parsed, parsed.settings)

    # -- helpers --------------------------------------------------------------------------

    def _cookie_header(self, signed_value: str) -> str:
        return f"{self.cookie.name}={signed_value}"

    def _signed(self, token: str) -> str:
        return token if "." in token or "%2E" in token.upper() else sign_token(token, self.options.secret)

    async def _get_session(self, signed_value: str, request: Any = None) -> BetterResponse | None:
        if not signed_value or len(signed_value) > 4096:
            return None
        result = await self.client.call(
            "GET", "/get-session", cookie=self._cookie_header(signed_value), request=request
        )
        if (
            not result.ok
            or not isinstance(result.body, dict)
            or not isinstance(result.body.get("user"), dict)
        ):
            return None
        return result

    def _user(self, data: dict[str, Any]) -> EEUser | None:
        if data.get("banned"):
            return None
        return user_from_better(data)

    def _session(self, body: dict[str, Any], session_id: str) -> Session:
        raw = body["session"]
        user = self._user(body["user"])
        metadata = {k: v for k, v in (("ip", raw.get("ipAddress")), ("userAgent", raw.get("userAgent"))) if v}
        return Session(
            id=session_id,
            user_id=str(raw.get("userId") or body["user"]["id"]),
            created_at=parse_date(raw.get("createdAt")) or utcnow(),
            expires_at=parse_date(raw.get("expiresAt")) or utcnow(),
            last_seen_at=parse_date(raw.get("updatedAt")),
            handle=raw.get("id"),
            user=user,
            metadata=metadata,
        )

    def _new_cookie_value(self, cookies: list[str]) -> str | None:
        for header in cookies:
            name, _, rest = header.partition("=")
            if name.strip() in self.cookie.names:
                value = rest.split(";", 1)[0]
                return value or None
        return None

    # -- IUserProvider ----------------------------------------------------------------------

    async def get_current_user(self, request: Request) -> EEUser | None:
        # One get-session per request: the session the host already validated through
        # this provider (its ``user`` is the Better Auth user, ``None`` when banned).
        try:
            session = await presented_session(request, self)
        except Exception:  # SPEC 3.1: never raise for "not authenticated"
            logger.debug("get-session failed", exc_info=True)
            return None
        return session.user if session is not None else None

    async def authenticate_token(self, token: str, request: Request | None = None) -> EEUser | None:
        try:
            result = await self._get_session(self._signed(token), request)
        except Exception:
            logger.debug("get-session (bearer) failed", exc_info=True)
            return None
        return self._user(result.body["user"]) if result else None

    async def get_user(self, user_id: str) -> EEUser | None:
        return None  # only the admin plugin looks users up by id: AdminRemoteBetterAuth

    # -- ICredentialsProvider ---------------------------------------------------------------

    def is_sign_up_enabled(self) -> bool:
        return self.options.sign_up_enabled

    def _credentials_result(self, result: BetterResponse) -> CredentialsResult:
        user = user_from_better(result.body["user"])
        return CredentialsResult(user=user, token=result.body.get("token"), cookies=result.cookies)

    async def sign_in(self, email: str, password: str, request: Request | None = None) -> CredentialsResult:
        normalised = normalise_email(email or "")
        if not password or len(password.encode("utf-8", "replace")) > _MAX_PASSWORD_BYTES:
            raise InvalidCredentials()
        if not is_valid_email(normalised):
            raise InvalidCredentials()
        result = await self.client.call(
            "POST", "/sign-in/email", json={"email": normalised, "password": password}, request=request
        )
        if result.ok and isinstance(result.body, dict) and isinstance(result.body.get("user"), dict):
            return self._credentials_result(result)
        reason = "invalid_credentials"
        if result.code in {"BANNED_USER", "USER_BANNED"}:
            reason = "disabled"
        elif result.code not in {
            "INVALID_EMAIL_OR_PASSWORD",
            "EMAIL_NOT_VERIFIED",
            "VALIDATION_ERROR",
            "INVALID_EMAIL",
            "INVALID_PASSWORD",
            "CREDENTIAL_ACCOUNT_NOT_FOUND",
        }:
            reason = "provider_error"
            logger.warning("Better Auth sign-in refused: %s %s", result.status, result.code)
        raise InvalidCredentials(reason=reason)

    async def sign_up(
        self, email: str, password: str, name: str | None = None, request: Request | None = None
    ) -> CredentialsResult:
        if not self.options.sign_up_enabled:
            raise SignUpDisabled()
        normalised = check_display_text(normalise_email(email or ""), "Email")
        if not is_valid_email(normalised):
            raise SignUpFailed("Invalid email", reason="invalid_email")
        display = check_display_text((name or "").strip()[:256], "Name") or normalised.split("@", 1)[0]
        # The whole policy runs here, before the server sees the password: a Better
        # Auth server checks only its own length limits.
        check_password_policy(password or "")
        result = await self.client.call(
            "POST",
            "/sign-up/email",
            json={"email": normalised, "password": password, "name": display},
            request=request,
        )
        if result.ok and isinstance(result.body, dict) and isinstance(result.body.get("user"), dict):
            return self._credentials_result(result)
        code = result.code
        if code == "PASSWORD_TOO_SHORT":
            raise PasswordPolicyError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
        if code == "PASSWORD_TOO_LONG":
            raise PasswordPolicyError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters")
        if code in {"INVALID_EMAIL", "VALIDATION_ERROR"}:
            raise SignUpFailed("Invalid email", reason="invalid_email")
        if code == "EMAIL_PASSWORD_SIGN_UP_DISABLED":
            raise SignUpDisabled()
        if code.startswith("USER_ALREADY_EXISTS"):
            raise SignUpFailed(reason="duplicate_email")
        logger.warning("Better Auth sign-up refused: %s %s", result.status, code)
        raise SignUpFailed(reason="provider_error")

    async def request_password_reset(self, email: str, reset_url: str) -> None:
        normalised = normalise_email(email or "")
        if not is_valid_email(normalised):
            return
        try:
            result = await self.client.call(
                "POST", "/request-password-reset", json={"email": normalised, "redirectTo": reset_url}
            )
        except Exception:  # never reveal anything, not even an outage, to the requester
            logger.warning("password reset request could not reach Better Auth", exc_info=True)
            return
        if not result.ok:
            logger.warning("Better Auth refused a password reset request: %s %s", result.status, result.code)

    async def reset_password(self, token: str, new_password: str) -> str:
        if not token or len(token) > 512:
            raise InvalidResetToken()
        check_password_policy(new_password or "")
        result = await self.client.call(
            "POST", "/reset-password", json={"newPassword": new_password, "token": token}
        )
        if result.ok:
            return ""
        if result.code == "PASSWORD_TOO_SHORT":
            raise PasswordPolicyError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
        if result.code == "PASSWORD_TOO_LONG":
            raise PasswordPolicyError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters")
        raise InvalidResetToken()

    # -- ISessionProvider -------------------------------------------------------------------

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        raise NotImplementedError("Better Auth remote mode cannot create a session for an arbitrary user")

    async def validate_session(self, session_id: str) -> Session | None:
        try:
            result = await self._get_session(session_id)
        except Exception:
            return None
        if result is None:
            return None
        session = self._session(result.body, session_id)
        return session if session.user is not None else None

    async def refresh_session(self, session_id: str) -> Session | None:
        """``get-session`` slides the expiry itself (``updateAge``); a new cookie is adopted."""
        try:
            result = await self._get_session(session_id)
        except Exception:
            return None
        if result is None:
            return None
        new_value = self._new_cookie_value(result.cookies) or session_id
        session = self._session(result.body, new_value)
        return session if session.user is not None else None

    async def destroy_session(self, session_id: str) -> None:
        if not session_id:
            return
        try:
            await self.client.call("POST", "/sign-out", json={}, cookie=self._cookie_header(session_id))
        except Exception:  # idempotent and best effort: the cookie is cleared regardless
            logger.warning("Better Auth sign-out failed", exc_info=True)

    def get_session_id_from_request(self, request: Request) -> str | None:
        return self.cookie.read(request.headers.get("cookie"))

    def get_session_headers(self, session: Session) -> list[tuple[str, str]]:
        remaining = int((session.expires_at - utcnow()).total_seconds())
        return [("set-cookie", self.cookie.set_header(session.id, remaining))]

    def get_clear_session_headers(self) -> list[tuple[str, str]]:
        return [("set-cookie", header) for header in self.cookie.clear_headers()]
