"""Role preview: an admin sees the studio as one of the roles would (SPEC 11.3).

Studio pages are rendered by the server, so the chosen role travels with each page
request in a session cookie the page script sets (:data:`PREVIEW_COOKIE`, the role id
only). The cookie can only ever *narrow* what a page shows: it is honoured only for a
caller whose own permissions carry the admin bypass (``*`` or ``*:*``, the same rule as
``GET /auth/roles/{roleId}/permissions`` and ``availableRoles``), only for a role the
RBAC provider lists, and :meth:`Viewer.can <._viewer.Viewer.can>` still asks the caller's
real permissions first. Nothing here touches the API: every request a previewing admin
makes is still authorized with their own permissions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ..ee.crypto import parse_cookie_header
from ..ee.interfaces import SupportsRoleCatalog, maybe_await
from ..ee.permissions import PermissionSet, compile_permissions

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..ee.provider import MastraAuthProvider
    from ..server import Caller

__all__ = ["PREVIEW_COOKIE", "RolePreview", "may_preview", "resolve_preview"]

logger = logging.getLogger("mastra.studio")

#: Set and cleared by the page script (boot.js); a browser-session cookie on the studio path.
PREVIEW_COOKIE = "mastra_studio_preview"


@dataclass(frozen=True, slots=True)
class RolePreview:
    role_id: str
    name: str
    permissions: PermissionSet

    def allows(self, permission: str) -> bool:
        return self.permissions.allows(permission)


def may_preview(auth: MastraAuthProvider, caller: Caller) -> bool:
    """The caller is an RBAC admin and the RBAC provider can list and resolve roles."""
    return (
        caller.user is not None
        and caller.rbac
        and isinstance(auth.rbac, SupportsRoleCatalog)
        and compile_permissions(caller.permissions).is_admin
    )


async def resolve_preview(auth: MastraAuthProvider, caller: Caller, request: Request) -> RolePreview | None:
    """The role named by the preview cookie, or ``None`` (no cookie, not allowed, unknown role)."""
    raw = parse_cookie_header(request.headers.get("cookie")).get(PREVIEW_COOKIE)
    if not raw or not may_preview(auth, caller):
        return None
    role_id = unquote(raw)[:200]
    rbac = auth.rbac
    assert isinstance(rbac, SupportsRoleCatalog)  # may_preview checked it
    try:
        listed = await maybe_await(rbac.get_available_roles())
        role = next((r for r in listed if str(r.get("id")) == role_id), None)
        if role is None:
            return None
        permissions = await maybe_await(rbac.get_permissions_for_role(role_id))
    except Exception as exc:  # a failing catalog shows the admin's own view, never an error page
        logger.warning("studio: cannot preview role %s: %s", role_id, exc)
        return None
    return RolePreview(role_id, str(role.get("name") or role_id), compile_permissions(list(permissions)))
