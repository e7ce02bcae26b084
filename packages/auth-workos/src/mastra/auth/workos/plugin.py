"""Entry point of the ``workos`` provider (``workos = "mastra.auth.workos.plugin:plugin"``).

One :class:`WorkOSAuthProvider` per composition serves every capability: one WorkOS
client, one JWKS cache, one membership cache. The plugin also mounts the
directory-sync webhook and the Admin Portal route, and adds ``workos.adminPortal``
to the capabilities response for users who may open it.
"""

from __future__ import annotations

from mastra.core.ee import PluginRoute, provider_plugin

from . import admin_portal
from .provider import WorkOSAuthProvider
from .webhooks import route as webhook_route

__all__ = ["plugin"]

plugin = provider_plugin(
    "workos",
    WorkOSAuthProvider.from_options,
    capabilities=("user", "session", "sso", "rbac", "audit"),
    routes=(
        # Signed by WorkOS, not by a user: no session and no CSRF token.
        PluginRoute(
            "POST", webhook_route.PATH, webhook_route.webhook_endpoint, requires_auth=False, csrf=False
        ),
        PluginRoute(
            "GET", admin_portal.PATH, admin_portal.admin_portal_endpoint, permission=admin_portal.PERMISSION
        ),
    ),
    capabilities_fragment=admin_portal.capabilities_fragment,
)
