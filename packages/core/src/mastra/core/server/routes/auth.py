"""``/auth/*`` routes (SPEC 9.3, 9.4): capabilities, me, logout, refresh, sessions,
role permissions, permission patterns. Credentials and SSO live in sibling modules;
:func:`auth_routes` lists them all in registration order.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ...ee.capabilities import build_capabilities
from ...ee.errors import RoleNotFound
from ...ee.interfaces import SupportsLogoutUrl, SupportsRoleCatalog, SupportsSessionListing, maybe_await
from ...ee.models import AuditResource, EEUser, format_timestamp
from ...ee.permissions import compile_permissions, intersect_permissions, permission_patterns
from .._audit import record
from .._authn import Caller
from .._responses import error_response, json_response
from .._spec import ApiRoute
from . import _credentials, _sso
from ._flows import sign_out_flow
from ._sessions import clear_headers, context

__all__ = ["auth_routes"]

logger = logging.getLogger("mastra.server")


async def capabilities(request: Request) -> Response:
    ctx = context(request)
    caller = await ctx.pipeline.authenticate(request) if ctx.auth.user is not None else Caller()
    body = await build_capabilities(
        ctx.auth,
        caller.user,
        request=caller.request or request,
        settings=ctx.settings,
        registry=ctx.registry,
    )
    return json_response(body, headers=caller.headers)


async def me(request: Request) -> Response:
    ctx = context(request)
    if ctx.auth.user is None:
        return json_response(None)
    caller = await ctx.pipeline.authenticate(request)
    if caller.unavailable is not None:  # unknown, not signed out: 503 (docs/decisions.md)
        return (await ctx.pipeline.unauthenticated(caller)).response()
    if caller.user is None:
        return json_response(None, headers=caller.headers)
    body = caller.user.public_json()
    access = await ctx.pipeline.access(caller.user)
    if access is not None:
        body["roles"], body["permissions"] = access
    if caller.scopes is not None:
        # An API key: what it may do, not what its owner may (clients decide from this).
        if access is not None:
            body["permissions"] = intersect_permissions(access[1], caller.scopes)
        body["apiKey"] = {"id": getattr(caller.api_key, "id", None), "scopes": list(caller.scopes)}
    return json_response(body, headers=caller.headers)


async def logout(request: Request) -> Response:
    ctx = context(request)
    outcome = await sign_out_flow(request, providers=(ctx.auth.sso,))
    body: dict[str, object] = {"success": True}
    signed_in = ctx.auth.user is not None or ctx.auth.session is not None
    if signed_in and isinstance(ctx.auth.sso, SupportsLogoutUrl):
        target = ctx.public_origin(request) + ctx.settings.normalised_studio_base
        url: str | None
        try:
            url = await maybe_await(ctx.auth.sso.get_logout_url(target, request))
        except Exception:
            logger.warning("federated logout URL failed", exc_info=True)
            url = None
        if url:
            body["redirectTo"] = url
    return json_response(body, headers=outcome.headers)


async def refresh(request: Request) -> Response:
    ctx = context(request)
    session = ctx.auth.session
    if session is None or not ctx.auth.supports_refresh:
        return error_response("Session refresh not configured", 404)
    sid = session.get_session_id_from_request(request)
    if not sid:
        return error_response("No session", 401)
    try:
        renewed = await session.refresh_session(sid)
    except Exception:
        logger.info("session refresh raised", exc_info=True)
        renewed = None
    if renewed is None:
        logger.info("session refresh refused: session expired")
        await record(request, "auth.refresh", "failure", metadata={"reason": "session_expired"})
        return error_response("Session expired", 401, headers=await clear_headers(ctx))
    user = EEUser(id=renewed.user_id)
    if ctx.auth.user is not None:
        try:
            user = await ctx.auth.user.get_user(renewed.user_id) or user
        except Exception:  # the id alone identifies the actor
            logger.debug("user lookup for the audit actor failed", exc_info=True)
    await record(request, "auth.refresh", "success", user=user)
    headers = list(await maybe_await(session.get_session_headers(renewed)))
    return json_response({"success": True}, headers=headers)


def _session_json(session: object, current: str | None) -> dict[str, object]:
    meta = getattr(session, "metadata", {}) or {}
    last = getattr(session, "last_seen_at", None)
    handle = getattr(session, "handle", None)
    return {
        "handle": handle,
        "createdAt": format_timestamp(session.created_at),  # type: ignore[attr-defined]
        "lastSeenAt": format_timestamp(last) if last else None,
        "expiresAt": format_timestamp(session.expires_at),  # type: ignore[attr-defined]
        "ip": meta.get("ip"),
        "userAgent": meta.get("userAgent"),
        "current": handle is not None and handle == current,
    }


def _current_handle(request: Request) -> str | None:
    session = getattr(request.state, "session", None)
    return getattr(session, "handle", None)


async def list_sessions(request: Request) -> Response:
    ctx = context(request)
    provider = ctx.auth.session
    if not isinstance(provider, SupportsSessionListing):
        return error_response("Session management not supported", 404)
    user: EEUser = request.state.user
    current = _current_handle(request)
    sessions = await provider.list_sessions(user.id)
    return json_response({"sessions": [_session_json(s, current) for s in sessions]})


async def revoke_session(request: Request) -> Response:
    ctx = context(request)
    provider = ctx.auth.session
    if not isinstance(provider, SupportsSessionListing):
        return error_response("Session management not supported", 404)
    user: EEUser = request.state.user
    handle = request.path_params["handle"]
    if not await provider.revoke_session(user.id, handle):
        return error_response("Session not found", 404)
    ctx.auth_cache.clear()
    await record(request, "auth.session-revoke", "success", user=user, metadata={"count": 1})
    headers = await clear_headers(ctx) if handle == _current_handle(request) else []
    return json_response({"success": True}, headers=headers)


async def revoke_other_sessions(request: Request) -> Response:
    ctx = context(request)
    provider = ctx.auth.session
    if not isinstance(provider, SupportsSessionListing):
        return error_response("Session management not supported", 404)
    user: EEUser = request.state.user
    count = int(await provider.revoke_user_sessions(user.id, except_handle=_current_handle(request)))
    ctx.auth_cache.clear()
    await record(request, "auth.session-revoke", "success", user=user, metadata={"count": count})
    return json_response({"revoked": count})


async def role_permissions(request: Request) -> Response:
    ctx = context(request)
    rbac = ctx.auth.rbac
    if rbac is None:
        return error_response("RBAC not configured", 404)
    permissions = getattr(request.state, "permissions", None) or []
    if not compile_permissions(permissions).is_admin:
        user = getattr(request.state, "user", None)
        await record(
            request,
            "authz.denied",
            "denied",
            user=user,
            resource=AuditResource(type="auth", id="roles"),
            metadata={"permission": "*", "method": request.method, "path": request.url.path},
        )
        return error_response("Admin access required", 403)
    if not isinstance(rbac, SupportsRoleCatalog):
        return error_response("RBAC provider does not support role permission resolution", 404)
    role_id = request.path_params["roleId"]
    resolved: list[str]
    try:
        resolved = await maybe_await(rbac.get_permissions_for_role(role_id))
    except RoleNotFound:
        return error_response("Role not found", 404)
    return json_response({"roleId": role_id, "permissions": list(resolved)})


async def patterns(request: Request) -> Response:
    ctx = context(request)
    return json_response({"patterns": permission_patterns(ctx.table.explicit_permissions())})


def auth_routes() -> list[ApiRoute]:
    r = ApiRoute
    return [
        r(
            "GET",
            "/auth/capabilities",
            capabilities,
            requires_auth=False,
            tag="auth",
            summary="Login methods and, when signed in, the user's capabilities and access",
            responses={200: "Capabilities (SPEC 7)"},
        ),
        r(
            "GET",
            "/auth/me",
            me,
            requires_auth=False,
            tag="auth",
            summary="The current user or null",
            responses={200: "User or null"},
        ),
        *_sso.sso_routes(),
        r(
            "POST",
            "/auth/logout",
            logout,
            requires_auth=False,
            csrf="always",
            tag="auth",
            summary="Destroy the session and clear its cookies",
            responses={200: "Signed out", 403: "CSRF"},
        ),
        r(
            "POST",
            "/auth/refresh",
            refresh,
            requires_auth=False,
            csrf="always",
            tag="auth",
            summary="Extend the current session",
            responses={200: "Refreshed", 401: "No or expired session", 403: "CSRF", 404: "Not supported"},
        ),
        *_credentials.credentials_routes(),
        r(
            "GET",
            "/auth/sessions",
            list_sessions,
            permission=False,
            key_scope="sessions:read",
            tag="auth",
            summary="The caller's live sessions",
            responses={200: "Sessions", 401: "Unauthenticated", 403: "A key without sessions:read"},
        ),
        r(
            "DELETE",
            "/auth/sessions/{handle}",
            revoke_session,
            permission=False,
            key_scope="sessions:delete",
            tag="auth",
            summary="Revoke one of the caller's sessions",
            responses={
                200: "Revoked",
                401: "Unauthenticated",
                403: "A key without sessions:delete",
                404: "Unknown handle",
            },
        ),
        r(
            "DELETE",
            "/auth/sessions",
            revoke_other_sessions,
            permission=False,
            key_scope="sessions:delete",
            tag="auth",
            summary="Revoke every other session of the caller",
            responses={200: "Count revoked", 401: "Unauthenticated", 403: "A key without sessions:delete"},
        ),
        r(
            "GET",
            "/auth/roles/{roleId}/permissions",
            role_permissions,
            permission=False,
            tag="auth",
            summary="Resolved permissions of a role (admins only)",
            responses={200: "Permissions", 401: "Unauthenticated", 403: "Not an admin", 404: "Unknown"},
        ),
        r(
            "GET",
            "/auth/permission-patterns",
            patterns,
            permission=False,
            tag="auth",
            summary="Permission vocabulary",
            responses={200: "Patterns", 401: "Unauthenticated"},
        ),
    ]
