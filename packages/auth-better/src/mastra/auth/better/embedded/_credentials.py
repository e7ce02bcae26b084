"""Email + password of the embedded mode (SPEC 3.4, 10.2).

Enumeration safety: an unknown e-mail, a user without a password, a wrong password
and a banned user all raise the same ``InvalidCredentials`` after exactly one
password verification (a dummy one when there is no hash), from a single SQL query.
Sign-up hashes before inserting, so an existing address costs the same time.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mastra.core.ee.crypto import sha256_hex
from mastra.core.ee.errors import InvalidCredentials, InvalidResetToken, SignUpDisabled, SignUpFailed
from mastra.core.ee.models import CredentialsResult, EEUser
from mastra.core.ee.policy import MAX_PASSWORD_BYTES, check_display_text, check_password_policy

from .._records import is_valid_email, normalise_email
from .._request import request_meta
from ._store import DuplicateEmail, unavailable_without_database

if TYPE_CHECKING:
    from mastra.core.ee.models import Session
    from starlette.requests import Request

    from .._options import BetterOptions
    from .._passwords import PasswordHasher
    from ._store import BetterStore

__all__ = ["RESET_TOKEN_TTL", "BetterCredentialsMixin"]

logger = logging.getLogger("mastra.auth.better")

RESET_TOKEN_TTL = timedelta(minutes=10)
_RESET_PREFIX = "reset-password:"
# A password longer than this can never be valid (the policy allows 128 UTF-8 bytes
# after NFKC, and NFKC composes at most a few code points into one); it still burns a
# dummy hash so the answer takes the usual time.
_MAX_SIGN_IN_PASSWORD = 4 * MAX_PASSWORD_BYTES


class BetterCredentialsMixin:
    options: BetterOptions
    store: BetterStore
    hasher: PasswordHasher
    settings: Any

    if TYPE_CHECKING:  # provided by the provider class and the sessions mixin

        @property
        def uses_own_sessions(self) -> bool: ...

        def _to_user(self, row: dict[str, Any]) -> EEUser: ...
        async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session: ...
        def get_session_headers(self, session: Session) -> list[tuple[str, str]]: ...
        async def _revoke_everywhere(self, user_id: str) -> int: ...

    def is_sign_up_enabled(self) -> bool:
        return self.options.sign_up_enabled

    async def _issue(self, user: EEUser, request: Request | None) -> CredentialsResult:
        """Own sessions: a session row + Better Auth cookie. Otherwise the host's session slot issues one."""
        if not self.uses_own_sessions:
            return CredentialsResult(user=user)
        session = await self.create_session(user.id, request_meta(request, self.settings))
        token = session.id  # signed form; the bare token is what Better Auth hands out as bearer
        bare = token.split(".", 1)[0]
        cookies = [value for _, value in self.get_session_headers(session)]
        return CredentialsResult(user=user, token=bare, cookies=cookies)

    @unavailable_without_database
    async def sign_in(self, email: str, password: str, request: Request | None = None) -> CredentialsResult:
        normalised = normalise_email(email or "")
        row, stored = (None, None)
        if is_valid_email(normalised):
            row, stored = await self.store.find_credential(normalised)
        if not password or len(password) > _MAX_SIGN_IN_PASSWORD:
            await self.hasher.verify_and_update("x" * 12, None)
            raise InvalidCredentials()
        ok, new_hash = await self.hasher.verify_and_update(password, stored if row else None)
        if not ok or row is None:
            raise InvalidCredentials()
        if row.get("banned"):
            raise InvalidCredentials(reason="disabled")
        if new_hash:
            # Scheme changed (``password_scheme``): re-hash with the current default.
            await self.store.set_password(row["id"], new_hash)
        return await self._issue(self._to_user(row), request)

    @unavailable_without_database
    async def sign_up(
        self, email: str, password: str, name: str | None = None, request: Request | None = None
    ) -> CredentialsResult:
        if not self.options.sign_up_enabled:
            raise SignUpDisabled()
        row = await self._create(email, password, name, role=None)
        return await self._issue(self._to_user(row), request)

    async def _create(self, email: str, password: str, name: str | None, role: str | None) -> dict[str, Any]:
        normalised = check_display_text(normalise_email(email or ""), "Email")
        if not is_valid_email(normalised):
            raise SignUpFailed("Invalid email", reason="invalid_email")
        display = check_display_text((name or "").strip()[:256], "Name") or normalised.split("@", 1)[0]
        password = check_password_policy(password or "")
        password_hash = await self.hasher.hash(password)
        try:
            return await self.store.create_user(
                email=normalised,
                name=display,
                password_hash=password_hash,
                role=role,
                default_role=self.options.default_role,
            )
        except DuplicateEmail:
            raise SignUpFailed(reason="duplicate_email") from None

    # -- password reset ---------------------------------------------------------------------

    @unavailable_without_database
    async def request_password_reset(self, email: str, reset_url: str) -> None:
        normalised = normalise_email(email or "")
        if not is_valid_email(normalised):
            return
        row = await self.store.get_user_by_email(normalised)
        if row is None or row.get("banned"):
            return
        token = secrets.token_urlsafe(32)
        await self.store.purge_expired_verifications()
        await self.store.insert_verification(
            _RESET_PREFIX + sha256_hex(token), row["id"], self.store.now() + RESET_TOKEN_TTL
        )
        separator = "&" if "?" in reset_url else "?"
        await self._deliver(row["email"], f"{reset_url}{separator}token={quote(token, safe='')}")

    async def _deliver(self, email: str, url: str) -> None:
        sender = self.options.reset_sender
        if sender is None:
            if self.options.is_dev:
                logger.warning("Password reset link for %s (no reset_sender configured): %s", email, url)
            else:
                logger.warning("Password reset requested but no reset_sender is configured; nothing was sent")
            return
        try:
            await sender(email, url)
        except Exception:  # a failing mailer must not reveal anything to the caller
            logger.exception("reset_sender failed")

    @unavailable_without_database
    async def reset_password(self, token: str, new_password: str) -> str:
        if not token or not isinstance(token, str) or len(token) > 512:
            raise InvalidResetToken()
        password = check_password_policy(new_password or "")  # before consuming: the user may retry
        user_id = await self.store.consume_verification(_RESET_PREFIX + sha256_hex(token))
        if user_id is None or await self.store.get_user(user_id) is None:
            raise InvalidResetToken()
        await self.store.set_password(user_id, await self.hasher.hash(password))
        await self._revoke_everywhere(user_id)
        return user_id

    @unavailable_without_database
    async def change_password(self, user_id: str, current_password: str, new_password: str) -> None:
        """Verify the current password, store the new one, revoke every session of the user."""
        password = check_password_policy(new_password or "")
        ok, _ = await self.hasher.verify_and_update(
            current_password or "", await self.store.password_hash(user_id)
        )
        if not ok:
            raise InvalidCredentials()
        await self.store.set_password(user_id, await self.hasher.hash(password))
        await self._revoke_everywhere(user_id)

    async def expire_reset_tokens(self) -> int:
        """Operations/test helper: expire every outstanding reset token now."""
        return await self.store.expire_verifications(_RESET_PREFIX)
