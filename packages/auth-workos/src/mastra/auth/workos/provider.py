"""``WorkOSAuthProvider``: one object serving user, session, SSO, RBAC and audit export.

One instance per options set shares the SDK client, the JWKS cache, the membership
cache and the revocation memory, which is what lets a directory-sync webhook
invalidate roles and kill sessions that the other capabilities then honour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mastra.core.ee.crypto import CookieSpec, cookie_name

from ._cache import SingleFlightCache
from ._client import make_client
from ._jwks import JWKSCache
from ._options import WorkOSOptions
from ._revocations import Revocations
from .audit_export import AuditExportMixin
from .rbac import WorkOSRBACMixin
from .sessions import SealedSessionMixin
from .sso import SSOMixin
from .users import UsersMixin
from .webhooks._replay import SeenEvents

__all__ = ["WorkOSAuthProvider"]


class WorkOSAuthProvider(UsersMixin, SealedSessionMixin, SSOMixin, WorkOSRBACMixin, AuditExportMixin):
    name = "workos"
    owns_sessions = True
    is_mastra_cloud_auth = False

    def __init__(self, options: WorkOSOptions, *, http_client: Any = None) -> None:
        self.options = options
        self.client = make_client(options, http_client=http_client)
        self.jwks = JWKSCache(
            self.client.user_management.get_jwks_url(), timeout=float(options.request_timeout)
        )
        production = options.production
        secure = production or (options.settings.public_url or "").startswith("https://")
        self.cookie = CookieSpec(name=cookie_name(options.cookie_name, production=production), secure=secure)
        self.revocations = Revocations()
        self.memberships_cache: SingleFlightCache[list[dict[str, Any]]] = SingleFlightCache(
            ttl=60.0, max_size=1000
        )
        self.seen_events = SeenEvents()
        self._auth: Any = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> WorkOSAuthProvider:
        return cls(WorkOSOptions.from_options(options))

    def bind(self, auth: Any) -> None:
        """Keep the composed provider: role changes and webhooks audit through it."""
        self._auth = auth

    async def aclose(self) -> None:
        await self.aclose_audit()
        await self.client.close()

    def __repr__(self) -> str:
        return f"<WorkOSAuthProvider client_id={self.options.client_id!r}>"
