"""Who is looking at a studio page, and what may they see.

Studio pages live outside the API prefix, so the auth middleware does not run for
them (SPEC 9.2); the page asks the server's :class:`~mastra.core.server.AuthPipeline`
itself, the one path the API uses: cookie (or bearer) authentication, transparent
refresh of an expired session, disabled users refused, permissions from the RBAC slot
only when RBAC is licensed (an RBAC outage leaves none: the no-access page).

Unlike the API, a page navigation skips the short auth cache: a role changed or a
user disabled by another process shows on the very next page. Tokens in ``?apiKey=``
are not accepted here: a page URL is no place for a credential.

An admin previewing a role (:mod:`._preview`) gets the role's permissions on top of
their own: :meth:`Viewer.can` needs both, so a preview can hide things, never show more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..ee.license import is_feature_licensed
from ..ee.models import EEUser
from ..ee.provider import MastraAuthProvider
from ._preview import RolePreview, may_preview, resolve_preview

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..server import Caller, EEContext

__all__ = ["Viewer", "resolve_viewer"]


@dataclass
class Viewer:
    auth_enabled: bool
    login_available: bool
    audit_available: bool = False
    caller: Caller | None = None
    # Set-Cookie values produced by a transparent refresh; the page response carries them.
    set_cookies: list[str] = field(default_factory=list)
    #: The caller may preview roles (an RBAC admin with a role catalog).
    can_preview: bool = False
    preview: RolePreview | None = None

    @property
    def user(self) -> EEUser | None:
        return self.caller.user if self.caller is not None else None

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    @property
    def rbac_on(self) -> bool:
        return self.caller is not None and self.caller.user is not None and self.caller.rbac

    @property
    def roles(self) -> list[str]:
        if self.preview is not None:
            return [self.preview.role_id]
        return self.caller.roles if self.rbac_on and self.caller is not None else []

    @property
    def permissions(self) -> list[str]:
        if self.preview is not None:
            return list(self.preview.permissions.permissions)
        return self.caller.permissions if self.rbac_on and self.caller is not None else []

    def can(self, permission: str) -> bool:
        """Auth off or RBAC off (auth-only mode) → everything is allowed (SPEC 11.1).
        A role preview only ever narrows the caller's own answer."""
        if not self.auth_enabled or self.caller is None or self.caller.user is None:
            return True
        if not self.caller.may(permission):
            return False
        return self.preview is None or self.preview.allows(permission)


async def resolve_viewer(ctx: EEContext, request: Request) -> Viewer:
    auth = ctx.auth
    if auth.user is None:
        return Viewer(auth_enabled=False, login_available=False, audit_available=_audit_on(auth))
    caller = await ctx.pipeline.identify(request, sliding=False, query_token=False, cached=False)
    return Viewer(
        auth_enabled=True,
        login_available=auth.sso is not None or auth.credentials is not None,
        audit_available=_audit_on(auth),
        caller=caller,
        set_cookies=[value for name, value in caller.headers if name.lower() == "set-cookie"],
        can_preview=may_preview(auth, caller),
        preview=await resolve_preview(auth, caller, request),
    )


def _audit_on(auth: MastraAuthProvider) -> bool:
    return auth.audit_storage is not None and is_feature_licensed(auth, "audit")
