"""AuthKit SSO (SPEC 10.1 "Login URL", "Callback").

Authorization URL priority: ``connection`` → ``connection_id``; else ``provider``; else
``organization`` → ``organization_id``; else hosted AuthKit (``provider="authkit"``).
Confidential client (the API key authenticates the code exchange), no PKCE; the host's
state is passed through unchanged.

``SSOMixin`` is part of :class:`~mastra.auth.workos.WorkOSAuthProvider`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mastra.core.ee.crypto import JWKSCache, JWKSUnavailable, TokenInvalid
from mastra.core.ee.errors import SSOError
from mastra.core.ee.models import SSOCallbackResult, SSOLoginConfig, SSOTokens

from workos._errors import ServerError, WorkOSConnectionError, WorkOSError, WorkOSTimeoutError

from ._access_token import verify_access_token
from ._options import BUTTON_TEXT
from .users import map_user

if TYPE_CHECKING:
    from mastra.core.ee.models import Session

    from workos import AsyncWorkOSClient

    from ._options import WorkOSOptions

__all__ = ["REDIRECT_URI_REQUIRED", "SSOMixin"]

logger = logging.getLogger("mastra.auth.workos")

REDIRECT_URI_REQUIRED = "WorkOS redirect URI is required"


def unavailable(message: str = "WorkOS is unavailable") -> SSOError:
    """A callback failure caused by WorkOS being down (5xx, timeout, refused)."""
    error = SSOError("provider_unavailable", message)
    error.status = 503
    return error


class SSOMixin:
    client: AsyncWorkOSClient
    options: WorkOSOptions
    jwks: JWKSCache

    def get_login_button_config(self) -> SSOLoginConfig:
        text = BUTTON_TEXT.get(self.options.provider or "", "Sign in")
        return SSOLoginConfig(provider="workos", text=text)

    def _authorization_target(self) -> dict[str, str]:
        opts = self.options
        if opts.connection:
            return {"connection_id": opts.connection}
        if opts.provider:
            return {"provider": opts.provider}
        if opts.organization:
            return {"organization_id": opts.organization}
        return {"provider": "authkit"}

    async def get_login_url(self, redirect_uri: str, state: str) -> str:
        uri = self.options.redirect_uri or redirect_uri
        if not uri:
            raise SSOError("sso_not_configured", REDIRECT_URI_REQUIRED)
        target: dict[str, Any] = self._authorization_target()
        return self.client.user_management.get_authorization_url(redirect_uri=uri, state=state, **target)

    async def handle_callback(
        self, code: str, state: str, *, cookie_header: str | None = None
    ) -> SSOCallbackResult:
        """Exchange the code, verify the access token, seal the ``wos_session`` cookie."""
        try:
            response = await self.client.user_management.authenticate_with_code(code=code)
        except (ServerError, WorkOSConnectionError, WorkOSTimeoutError) as exc:
            logger.warning("WorkOS code exchange failed, WorkOS unavailable: %s", type(exc).__name__)
            raise unavailable() from exc
        except (WorkOSError, ValueError) as exc:
            logger.info("WorkOS code exchange refused: %s", type(exc).__name__)
            raise SSOError("sso_failed") from exc
        try:
            # Authenticity is checked here; expiry is checked on every later read
            # (an expired token is refreshed by the host's transparent refresh).
            claims = await verify_access_token(
                self.jwks, response.access_token, issuer=self.options.jwt_issuer, check_expiry=False
            )
        except JWKSUnavailable as exc:
            logger.warning("WorkOS access token not checked, JWKS unavailable: %s", exc)
            raise unavailable() from exc
        except TokenInvalid as exc:
            logger.warning("WorkOS access token failed verification: %s", exc)
            raise SSOError("sso_failed") from exc

        organization_id = response.organization_id or claims.get("org_id")
        sealed = self.seal_session(  # type: ignore[attr-defined]
            access_token=response.access_token,
            refresh_token=response.refresh_token,
            user=response.user.to_dict(),
            organization_id=organization_id,
            impersonator=response.impersonator.to_dict() if response.impersonator else None,
        )
        opened = self._open(sealed)  # type: ignore[attr-defined]
        if opened is None:
            raise SSOError("sso_failed")
        session: Session = self._session_from(sealed, opened)  # type: ignore[attr-defined]
        user = session.user or map_user(response.user, organization_id)
        exp = claims.get("exp")
        tokens = SSOTokens(
            access_token=response.access_token,
            refresh_token=response.refresh_token,
            expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None,
        )
        cookies = [value for _, value in self.get_session_headers(session)]  # type: ignore[attr-defined]
        return SSOCallbackResult(user=user, tokens=tokens, cookies=cookies)
