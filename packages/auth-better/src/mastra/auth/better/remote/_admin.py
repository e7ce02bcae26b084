"""Better Auth's ``admin`` plugin, called as a configured admin account (remote mode).

The plugin authorises by session: the provider signs in with ``admin_email`` /
``admin_password``, keeps that session's cookie and signs in again once when the
server answers 401 (the session expired or was revoked). A refused admin sign-in or
a 403 (the account lacks the ``admin`` role) is a misconfiguration: logged as an
error and raised as ``ProviderUnavailable`` (503), never mistaken for "no such user".
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from mastra.core.ee.errors import ProviderUnavailable

from .._options import BetterOptions
from ._client import BetterAuthClient, BetterResponse

__all__ = ["BetterAdminApi"]

logger = logging.getLogger("mastra.auth.better")


class BetterAdminApi:
    def __init__(self, client: BetterAuthClient, options: BetterOptions) -> None:
        assert options.admin_email and options.admin_password
        self.client = client
        self.email = options.admin_email
        self.password = options.admin_password
        self._cookie: str | None = None

    async def _sign_in(self) -> str:
        result = await self.client.call(
            "POST", "/sign-in/email", json={"email": self.email, "password": self.password}
        )
        # Every cookie the server set (the session token, and its cache cookie if enabled).
        pairs = [c.split(";", 1)[0].strip() for c in result.cookies]
        cookie = "; ".join(p for p in pairs if p and not p.endswith("="))
        if not result.ok or not cookie:
            logger.error(
                "Better Auth refused the admin sign-in of %s (%s %s): check admin_email/admin_password",
                self.email,
                result.status,
                result.code,
            )
            raise ProviderUnavailable()
        self._cookie = cookie
        return cookie

    async def call(self, method: str, path: str, json: dict[str, Any] | None = None) -> BetterResponse:
        """One admin endpoint call; 2xx and 4xx other than 401/403 are returned."""
        result: BetterResponse | None = None
        for _ in range(2):
            cookie = self._cookie or await self._sign_in()
            result = await self.client.call(method, path, json=json, cookie=cookie)
            if result.status != 401:
                break
            self._cookie = None  # expired or revoked: sign in again, once
        assert result is not None
        if result.status in {401, 403}:
            logger.error(
                "Better Auth refused %s to the admin account %s (%s %s): it needs the admin role",
                path.split("?", 1)[0],
                self.email,
                result.status,
                result.code,
            )
            raise ProviderUnavailable()
        if result.status == 404 and not result.code:  # no such route, not "no such user"
            logger.error("Better Auth has no %s: enable its admin plugin", path.split("?", 1)[0])
            raise ProviderUnavailable()
        return result

    # -- endpoints --------------------------------------------------------------------------

    async def get_user(self, user_id: str) -> dict[str, Any] | None:
        result = await self.call("GET", "/admin/get-user?id=" + quote(user_id, safe=""))
        if result.status in {400, 404}:
            return None
        body = result.body if isinstance(result.body, dict) else {}
        user = body.get("user", body)  # 1.7 answers the user itself; older, {user}
        return user if result.ok and isinstance(user, dict) and user.get("id") == user_id else None

    async def list_user_sessions(self, user_id: str) -> list[dict[str, Any]]:
        result = await self.call("POST", "/admin/list-user-sessions", {"userId": user_id})
        sessions = result.body.get("sessions") if result.ok and isinstance(result.body, dict) else None
        if not isinstance(sessions, list):
            logger.warning("Better Auth list-user-sessions answered %s %s", result.status, result.code)
            raise ProviderUnavailable()
        return [s for s in sessions if isinstance(s, dict) and s.get("userId") == user_id]

    async def revoke_session_token(self, token: str) -> None:
        await self._expect_success("/admin/revoke-user-session", {"sessionToken": token})

    async def revoke_user_sessions(self, user_id: str) -> None:
        await self._expect_success("/admin/revoke-user-sessions", {"userId": user_id})

    async def _expect_success(self, path: str, body: dict[str, Any]) -> None:
        result = await self.call("POST", path, body)
        if not result.ok:
            logger.warning("Better Auth %s answered %s %s", path, result.status, result.code)
            raise ProviderUnavailable()
