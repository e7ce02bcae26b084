"""Who is looking at a studio page, and what may they see.

Studio pages live outside the API prefix, so the server's auth middleware does not
run for them (SPEC 9.2); the guard resolves the visitor here with the same rules:
cookie authentication, transparent refresh of an expired session, disabled users
rejected by ``MastraAuthProvider.authenticate``, permissions from the RBAC slot
only when RBAC is licensed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ..ee.interfaces import maybe_await
from ..ee.license import is_feature_licensed
from ..ee.models import EEUser
from ..ee.provider import MastraAuthProvider

__all__ = ["Viewer", "resolve_viewer"]

logger = logging.getLogger("mastra.studio")


@dataclass
class Viewer:
    auth_enabled: bool
    login_available: bool
    user: EEUser | None = None
    rbac_on: bool = False
    audit_available: bool = False
    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    # Set-Cookie values produced by a transparent refresh; the page response carries them.
    set_cookies: list[str] = field(default_factory=list)
    _compiled: Any = None

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def can(self, permission: str) -> bool:
        """Auth off or RBAC off (auth-only mode) → everything is allowed (SPEC 11.1)."""
        if not self.auth_enabled or not self.rbac_on:
            return True
        if self._compiled is None:
            from ..ee.permissions import compile_permissions

            self._compiled = compile_permissions(self.permissions)
        return bool(self._compiled.allows(permission))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _authenticate(auth: MastraAuthProvider, request: Request) -> EEUser | None:
    try:
        return await auth.authenticate(request, _bearer(request))
    except Exception:  # a broken provider means "not signed in", never a 500 page
        logger.warning("studio: authentication raised; treating the visitor as signed out", exc_info=True)
        return None


def _with_cookies(request: Request, set_cookies: list[str]) -> Request:
    """A copy of ``request`` whose Cookie header carries the refreshed cookie values."""
    from ..ee.crypto import parse_cookie_header

    jar = parse_cookie_header(request.headers.get("cookie"))
    for header in set_cookies:
        pair = header.split(";", 1)[0]
        name, sep, value = pair.partition("=")
        if sep:
            jar[name.strip()] = value.strip()
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"cookie"]
    headers.append((b"cookie", cookie.encode("latin-1")))
    scope = dict(request.scope, headers=headers)
    return Request(scope, request.receive)


async def _refresh(auth: MastraAuthProvider, request: Request) -> tuple[EEUser | None, list[str]]:
    session = auth.session
    if not auth.supports_refresh:
        return None, []
    try:
        session_id = await maybe_await(session.get_session_id_from_request(request))
        if not session_id:
            return None, []
        refreshed = await maybe_await(session.refresh_session(session_id))
        if refreshed is None:
            return None, []
        headers = await maybe_await(session.get_session_headers(refreshed))
        cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    except Exception:
        logger.info("studio: session refresh failed", exc_info=True)
        return None, []
    if not cookies:
        return None, []
    user = await _authenticate(auth, _with_cookies(request, cookies))
    return (user, cookies) if user is not None else (None, [])


async def resolve_viewer(auth: MastraAuthProvider | None, request: Request) -> Viewer:
    if auth is None or auth.user is None:
        return Viewer(auth_enabled=False, login_available=False, audit_available=_audit_on(auth))
    viewer = Viewer(
        auth_enabled=True,
        login_available=auth.sso is not None or auth.credentials is not None,
        audit_available=_audit_on(auth),
    )
    user = await _authenticate(auth, request)
    if user is None:
        user, viewer.set_cookies = await _refresh(auth, request)
    if user is None:
        return viewer
    viewer.user = user
    if auth.rbac is not None and is_feature_licensed(auth, "rbac"):
        viewer.rbac_on = True
        try:
            viewer.roles = list(await maybe_await(auth.rbac.get_roles(user)))
            viewer.permissions = list(await maybe_await(auth.rbac.get_permissions(user)))
        except Exception:  # fail closed: an RBAC outage shows the no-access page
            logger.warning("studio: RBAC lookup failed for user %s", user.id, exc_info=True)
            viewer.roles, viewer.permissions = [], []
    return viewer


def _audit_on(auth: MastraAuthProvider | None) -> bool:
    return auth is not None and auth.audit_storage is not None and is_feature_licensed(auth, "audit")
