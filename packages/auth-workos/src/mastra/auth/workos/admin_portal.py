"""Admin Portal link (``GET /auth/workos/admin-portal?intent=``) and capabilities flag.

The route requires ``settings:write`` (enforced by the host's middleware from the
route's ``permission``); the organization is the ``organization_id`` option, else the
signed-in user's organization. ``return_url`` = public origin + studio base.
"""

from __future__ import annotations

import logging
from typing import Any

from mastra.core.ee.permissions import has_permission
from mastra.core.server import ee_context
from starlette.requests import Request
from starlette.responses import JSONResponse

from workos._errors import WorkOSError

from ._context import find_provider

__all__ = ["INTENTS", "PATH", "PERMISSION", "admin_portal_endpoint", "capabilities_fragment"]

logger = logging.getLogger("mastra.auth.workos")

PATH = "/auth/workos/admin-portal"
PERMISSION = "settings:write"
INTENTS = ("sso", "dsync", "audit_logs", "log_streams")
_NO_STORE = {"Cache-Control": "no-store"}


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


async def admin_portal_endpoint(request: Request) -> JSONResponse:
    _, provider = find_provider(request)
    if provider is None:
        return _json({"error": "WorkOS not configured"}, 404)
    intent = request.query_params.get("intent", "sso")
    if intent not in INTENTS:
        return _json(
            {"error": "Invalid intent", "message": f"intent must be one of {', '.join(INTENTS)}"}, 400
        )
    user = getattr(request.state, "user", None)
    organization = provider.options.organization_id or (
        user.metadata.get("organizationId") if user is not None else None
    )
    if not organization:
        return _json({"error": "No organization"}, 400)
    ctx = ee_context(request)
    return_url = ctx.public_origin(request) + ctx.settings.normalised_studio_base
    try:
        link = await provider.client.admin_portal.generate_link(
            organization=str(organization), intent=intent, return_url=return_url
        )
    except (WorkOSError, ValueError) as exc:
        logger.warning("WorkOS admin portal link failed: %s", type(exc).__name__)
        return _json({"error": "WorkOS request failed"}, 502)
    return _json({"url": link.link})


def capabilities_fragment(context: Any) -> dict[str, Any] | None:
    """``{"workos": {"adminPortal": true}}`` for a signed-in caller holding ``settings:write``."""
    from .provider import WorkOSAuthProvider

    auth = getattr(context, "auth", None)
    if getattr(context, "user", None) is None or auth is None:
        return None
    if not any(isinstance(getattr(auth, s, None), WorkOSAuthProvider) for s in ("user", "sso", "rbac")):
        return None
    permissions = getattr(context, "permissions", None)
    if permissions is None or not has_permission(permissions, PERMISSION):
        return None
    return {"workos": {"adminPortal": True}}
