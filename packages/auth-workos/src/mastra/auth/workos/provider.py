"""``WorkOSAuthProvider``: one object serving user, session, SSO, RBAC, audit export
and remote audit exports (``SupportsRemoteAuditExport``).

One instance per options set shares the SDK client, the JWKS cache, the membership
cache and the revocation memory, which is what lets a directory-sync webhook
invalidate roles and kill sessions that the other capabilities then honour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mastra.core.ee.cache import SingleFlightCache
from mastra.core.ee.crypto import JWKSCache, cookie_spec
from mastra.core.ee.options import as_provider_options

from ._client import make_client
from ._options import WorkOSOptions
from ._revocations import Revocations
from .audit_export import AuditExportMixin
from .rbac import WorkOSRBACMixin
from .remote_export import RemoteExportMixin
from .sessions import SealedSessionMixin
from .sso import SSOMixin
from .users import UsersMixin
from .webhooks._replay import SeenEvents

if TYPE_CHECKING:
    from mastra.core.ee.shared import SharedState

__all__ = ["WorkOSAuthProvider"]


class WorkOSAuthProvider(
    UsersMixin, SealedSessionMixin, SSOMixin, WorkOSRBACMixin, AuditExportMixin, RemoteExportMixin
):
    name = "workos"
    owns_sessions = True
    is_mastra_cloud_auth = False

    def __init__(self, options: WorkOSOptions, *, http_client: Any = None) -> None:
        self.options = options
        self.client = make_client(options, http_client=http_client)
        self.jwks = JWKSCache(
            self.client.user_management.get_jwks_url(), timeout=float(options.request_timeout)
        )
        self.cookie = cookie_spec(
            options.cookie_name, production=options.production, public_url=options.settings.public_url
        )
        self.revocations = Revocations()
        self.memberships_cache: SingleFlightCache[list[dict[str, Any]]] = SingleFlightCache(
            ttl=60.0, max_size=1000
        )
        self.seen_events = SeenEvents()
        self._auth: Any = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> WorkOSAuthProvider:
        return cls(as_provider_options(options).parse(WorkOSOptions))

    def attach_shared_state(self, shared: SharedState) -> None:
        """Revocations and webhook ids shared by every process and node (issue #14)."""
        self.revocations.attach(shared)
        self.seen_events.attach(shared)

    def bind(self, auth: Any) -> None:
        """Keep the composed provider: role changes and webhooks audit through it."""
        self._auth = auth

    async def aclose(self) -> None:
        await self.aclose_audit()
        await self.client.close()

    def __repr__(self) -> str:
        return f"<WorkOSAuthProvider client_id={self.options.client_id!r}>"
