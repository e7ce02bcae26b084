"""``EmbeddedBetterAuth``: user, credentials and (optionally) session provider on
Better-Auth-compatible tables in the project database.

One instance serves every capability named ``better``. Which sessions it reads is
decided at ``bind(auth)``: when the composed provider's ``session`` slot is this
object (``session = better``) it uses the ``session`` table and Better Auth's cookie;
otherwise (the embedded default, ``session = cookie``) it resolves the current user
through the bound session slot and lets that slot issue sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mastra.core.ee.db import is_database_outage
from mastra.core.ee.errors import ProviderUnavailable
from mastra.core.ee.interfaces import SupportsSessionListing
from mastra.core.ee.models import EEUser, format_timestamp
from mastra.core.ee.options import as_provider_options
from mastra.core.ee.request_auth import presented_session

from .._cookie import BetterCookie
from .._options import BetterOptions
from .._passwords import PasswordHasher
from .._records import normalise_email, user_from_better
from ._credentials import BetterCredentialsMixin
from ._sessions import BetterSessionsMixin
from ._store import BetterStore

if TYPE_CHECKING:
    from mastra.core.ee.provider import MastraAuthProvider
    from starlette.requests import Request

__all__ = ["EmbeddedBetterAuth"]

logger = logging.getLogger("mastra.auth.better")


def _unchecked(exc: BaseException) -> bool:
    """Not "not authenticated": the credential could not be checked (the host answers 503)."""
    return isinstance(exc, ProviderUnavailable) or is_database_outage(exc)


class EmbeddedBetterAuth(BetterCredentialsMixin, BetterSessionsMixin):
    owns_sessions = False
    provider_name = "better"

    def __init__(
        self, options: BetterOptions, settings: Any = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.options = options
        self.settings = settings
        self.store = BetterStore(options.database_url, clock)
        self.hasher = PasswordHasher(options.password_scheme)
        self.cookie = BetterCookie.create(options.cookie_prefix, settings)
        self._auth: MastraAuthProvider | None = None

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, clock: Callable[[], datetime] | None = None
    ) -> EmbeddedBetterAuth:
        parsed = as_provider_options(options).parse(BetterOptions)
        return cls(parsed, parsed.settings, clock=clock)

    def bind(self, auth: MastraAuthProvider) -> None:
        self._auth = auth

    @property
    def uses_own_sessions(self) -> bool:
        """True unless bound to a composition whose session slot is another provider."""
        session = self._auth.session if self._auth is not None else None
        return session is None or session is self

    def _foreign_sessions(self) -> Any:
        return None if self.uses_own_sessions else self._auth.session  # type: ignore[union-attr]

    def _to_user(self, row: dict[str, Any]) -> EEUser:
        return user_from_better(row, default_role=self.options.default_role)

    # -- IUserProvider ------------------------------------------------------------------------

    async def get_current_user(self, request: Request) -> EEUser | None:
        try:
            # The session the host already read for this request (validated once), or,
            # outside the server, the cookie read and validated here.
            session = await presented_session(request, self._foreign_sessions() or self)
            return await self.get_user(session.user_id) if session else None
        except Exception as exc:  # SPEC 3.1: any verification error means "not authenticated"
            if _unchecked(exc):
                raise
            logger.debug("embedded get_current_user failed", exc_info=True)
            return None

    async def authenticate_token(self, token: str, request: Request | None = None) -> EEUser | None:
        """Bearer: a Better Auth session token (signed first, as Better Auth's bearer plugin
        does) or, with a foreign session slot, that slot's session id."""
        if not token or len(token) > 4096:
            return None
        try:
            foreign = self._foreign_sessions()
            if foreign is None:
                session = await self.validate_session(self.signed_value_for_token(token))
            else:
                session = await foreign.validate_session(token)
            return await self.get_user(session.user_id) if session else None
        except Exception as exc:
            if _unchecked(exc):
                raise
            logger.debug("embedded authenticate_token failed", exc_info=True)
            return None

    async def get_user(self, user_id: str) -> EEUser | None:
        row = await self.store.get_user(user_id)
        return self._to_user(row) if row else None

    async def get_users(self, user_ids: Sequence[str]) -> list[EEUser | None]:
        rows = await self.store.get_users(user_ids)
        return [self._to_user(rows[i]) if i in rows else None for i in user_ids]

    async def is_user_disabled(self, user_id: str) -> bool:
        row = await self.store.get_user(user_id)
        return row is None or bool(row.get("banned"))

    # -- administration (static RBAC manager, CLI) ---------------------------------------------

    async def set_user_role(self, user_id: str, role: str) -> None:
        if not await self.store.update_user(user_id, role=role):
            raise LookupError(f"No user with id {user_id}")

    async def create_user(
        self, email: str, password: str, name: str | None = None, role: str | None = None
    ) -> EEUser:
        """CLI ``users create``: same rules as sign-up (first user ``owner``), ignores the sign-up toggle."""
        return self._to_user(await self._create(email, password, name, role=role))

    async def list_users(self) -> list[dict[str, Any]]:
        return [
            {
                "id": row["id"],
                "email": row["email"],
                "name": row["name"],
                "role": row.get("role"),
                "disabled": bool(row.get("banned")),
                "created": format_timestamp(row["createdAt"]),
            }
            for row in await self.store.list_users()
        ]

    async def count_users(self) -> int:
        return await self.store.count_users()

    async def get_user_by_email(self, email: str) -> EEUser | None:
        row = await self.store.get_user_by_email(normalise_email(email))
        return self._to_user(row) if row else None

    async def _require(self, email: str) -> dict[str, Any]:
        row = await self.store.get_user_by_email(normalise_email(email))
        if row is None:
            raise LookupError(f"No user with email {email}")
        return row

    async def set_role(self, email: str, role: str) -> tuple[str | None, str]:
        row = await self._require(email)
        await self.store.update_user(row["id"], role=role)
        return row.get("role"), role

    async def disable_user(self, email: str) -> EEUser:
        row = await self._require(email)
        await self.store.update_user(row["id"], banned=True)
        await self._revoke_everywhere(row["id"])
        row["banned"] = True
        return self._to_user(row)

    async def enable_user(self, email: str) -> EEUser:
        row = await self._require(email)
        await self.store.update_user(row["id"], banned=False)
        row["banned"] = False
        return self._to_user(row)

    async def _revoke_everywhere(self, user_id: str) -> int:
        """The ``session`` table (Node or us) and the bound session slot's registry."""
        count = await self.store.delete_user_sessions(user_id)
        foreign = self._foreign_sessions()
        if isinstance(foreign, SupportsSessionListing):
            count += int(await foreign.revoke_user_sessions(user_id) or 0)
        return count
