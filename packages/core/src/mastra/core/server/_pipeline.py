"""The one authentication + authorization path (SPEC 9.2, 11.3, S29).

The auth middleware, ``require_permission`` and the studio all ask the app's
:class:`AuthPipeline` (``EEContext.pipeline``):

* :meth:`AuthPipeline.identify` — who is calling: the cached authentication
  (:mod:`._authcache`; credentials read once, transparent refresh, disabled users
  refused: :mod:`._authn`), then roles and permissions from the RBAC slot when RBAC is
  licensed (an RBAC error leaves none: fail closed);
* :meth:`~AuthPipeline.unauthenticated`, :meth:`~AuthPipeline.check_permission`,
  :meth:`~AuthPipeline.check_route` — may they do it: ``None``, or the
  :class:`PermissionDenied` carrying the SPEC status and body (each 403 of an
  authenticated caller is audited as ``authz.denied``).

Denials are returned rather than raised so each caller renders them its own way: the
middleware as its response, ``require_permission`` by raising, the studio in its page.
The public auth routes (``/auth/me``, capabilities, logout) use the uncached
:meth:`AuthPipeline.authenticate`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from ..ee.errors import ProviderUnavailable, error_body
from ..ee.interfaces import SupportsChangeListeners, maybe_await
from ..ee.license import is_feature_licensed
from ..ee.models import AuditResource, EEUser, ResourceIdentifier
from ..ee.permissions import derive_permission, effective_permission, intersect_permissions
from ..ee.request_auth import RequestCredentials, bearer_token
from ._apikeys import ApiKeyAuthenticator, presented_api_key
from ._audit import record
from ._authcache import AuthCache
from ._authn import Caller, authenticate
from ._origin import client_ip
from ._responses import json_response

if TYPE_CHECKING:
    from ..ee.provider import MastraAuthProvider
    from ..ee.settings import Settings
    from ._ratelimit import FailureLimiter
    from ._spec import ApiRoute

__all__ = [
    "LICENSE_REQUIRED",
    "NOT_CONFIGURED",
    "AuthPipeline",
    "PermissionDenied",
    "remember_caller",
    "remembered_caller",
]

logger = logging.getLogger("mastra.server")

NOT_CONFIGURED = "Authentication is not configured"
LICENSE_REQUIRED = "Permission checks require a valid EE license"
_UNAUTHENTICATED = "Invalid or expired token"
_ACL_TYPES = {"agents": "agent", "workflows": "workflow", "tools": "tool"}


class PermissionDenied(HTTPException):
    """A refusal with its SPEC status, JSON body and headers (401, 403 or 503).

    An ``HTTPException`` so that even an app without ``mount_ee``'s handler answers
    with the right status instead of a 500 (or, worse, a pass).
    """

    def __init__(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(status, detail=body.get("message") or body.get("error"))
        self.status = status
        self.body = {**body, **error_body(body["error"], body.get("message"))}
        self.response_headers = headers or []

    def response(self) -> JSONResponse:
        return json_response(self.body, self.status, headers=self.response_headers)


def remember_caller(scope: MutableMapping[str, Any], caller: Caller) -> None:
    """Expose the caller to handlers: ``request.state.user``, ``token``, ``roles``,
    ``permissions``, ``session`` (and the whole :class:`Caller` for the guards)."""
    state = scope.setdefault("state", {})
    state.update(
        user=caller.user,
        token=caller.token,
        roles=caller.roles,
        permissions=caller.permissions,
        session=caller.session,
        mastra_caller=caller,
    )


def remembered_caller(request: HTTPConnection) -> Caller | None:
    """The caller the middleware already identified for ``request``, if any."""
    found = request.scope.get("state", {}).get("mastra_caller")
    return found if isinstance(found, Caller) else None


class AuthPipeline:
    def __init__(
        self,
        auth: MastraAuthProvider,
        settings: Settings,
        cache: AuthCache,
        limiter: FailureLimiter | None = None,
    ) -> None:
        self.auth = auth
        self.settings = settings
        self.cache = cache
        self.api_keys = ApiKeyAuthenticator(auth, settings, limiter)
        if isinstance(auth.api_keys, SupportsChangeListeners):
            # A revoked or rotated key, or a disabled service account, stops at once.
            auth.api_keys.add_change_listener(cache.clear)

    # -- who is calling -------------------------------------------------------------

    def _token(self, request: Request, query_token: bool) -> tuple[str | None, bool]:
        """The presented token, and whether it is an API key for the ``api_keys`` slot."""
        # The settings are consulted only when a query string could carry ``?apiKey=``.
        allowed = (
            query_token and bool(request.scope.get("query_string")) and self.settings.query_token_enabled
        )
        token = bearer_token(request, query_token=allowed)
        if self.auth.api_keys is not None:
            key = presented_api_key(request, token)
            if key is not None:
                return key, True
        return token, False

    async def authenticate(
        self, request: Request, *, refresh: bool = True, sliding: bool = False, query_token: bool = True
    ) -> Caller:
        """Uncached authentication, without roles (the public auth routes)."""
        token, is_key = self._token(request, query_token)
        if is_key and token is not None:
            return await self.api_keys.authenticate(request, token)
        return await self._authenticate(request, token, refresh=refresh, sliding=sliding)

    async def _authenticate(
        self, request: Request, token: str | None, *, refresh: bool = True, sliding: bool = False
    ) -> Caller:
        credentials = await RequestCredentials.read(request, self.auth.session, token=token)
        try:
            return await authenticate(self.auth, request, credentials, refresh=refresh, sliding=sliding)
        except ProviderUnavailable as unavailable:
            logger.warning("identity provider unavailable: %s", unavailable.message)
            caller = Caller(token=credentials.token, session_id=credentials.session_id, request=request)
            caller.unavailable = unavailable
            return caller
        except Exception:
            logger.warning("authentication failed with an error", exc_info=True)
            return Caller(token=credentials.token, session_id=credentials.session_id, request=request)

    async def identify(
        self, request: Request, *, sliding: bool = True, query_token: bool = True, cached: bool = True
    ) -> Caller:
        """Who is calling, with roles and permissions; ``Caller.user`` is ``None`` for nobody.

        ``sliding`` slides the session forward (API routes); ``query_token`` lets
        ``?apiKey=`` authenticate where the settings allow it (not on studio pages);
        ``cached=False`` reads the providers whatever the cache holds (studio pages).
        """
        if self.auth.user is None:
            return Caller(request=request)
        token, is_key = self._token(request, query_token)
        cache = self.cache
        if not cache.enabled or not cached:
            return await self._identify(request, token, sliding, is_key)
        key = self._cache_key(request, token, is_key)
        hit = cache.get(key)
        if hit is not None:
            return hit
        pending = cache.pending(key)
        if pending is not None:
            # Another request is authenticating the same credentials: share its result
            # (a failure, or a revocation meanwhile, sends us through our own check).
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared
        generation = cache.generation
        future = cache.begin(key)
        shared = None
        try:
            caller = await self._identify(request, token, sliding, is_key)
            shared = cache.shareable(caller)
            if shared is not None:
                cache.put(key, shared, generation)
        finally:
            if future is not None:
                cache.finish(key, future, shared if generation == cache.generation else None)
        return caller

    def cached(self, request: Request) -> Caller | None:
        """What :meth:`identify` (defaults) would answer from the cache, or ``None``: the
        middleware's answer for a cache hit, without a coroutine."""
        if self.auth.user is None or not self.cache.enabled:
            return None
        token, is_key = self._token(request, True)
        return self.cache.get(self._cache_key(request, token, is_key))

    def _cache_key(self, request: Request, token: str | None, is_key: bool) -> str:
        # An API key's answer depends on the client's address (its IP allow-list): the
        # entry is per address, or one accepted request would carry the key to any other.
        return self.cache.key(request, token, client_ip(request, self.settings) if is_key else None)

    async def _identify(
        self, request: Request, token: str | None, sliding: bool, is_key: bool = False
    ) -> Caller:
        if is_key and token is not None:
            caller = await self.api_keys.authenticate(request, token)
        else:
            caller = await self._authenticate(request, token, sliding=sliding)
        if caller.user is not None:
            caller.rbac = self.rbac_enforced
            access = await self.access(caller.user, enforced=caller.rbac)
            if access is not None:
                caller.roles, caller.permissions = access
            if caller.scopes is not None:
                # Recomputed on every use: a demoted owner's keys shrink with them.
                caller.owner_permissions = caller.permissions
                caller.permissions = intersect_permissions(caller.permissions, caller.scopes)
        return caller

    @property
    def rbac_enforced(self) -> bool:
        """Permissions are checked: an RBAC slot is filled and RBAC is licensed."""
        return self.auth.rbac is not None and is_feature_licensed(self.auth, "rbac")

    async def access(
        self, user: EEUser, *, enforced: bool | None = None
    ) -> tuple[list[str], list[str]] | None:
        """``(roles, permissions)`` when RBAC is enforced (``enforced``: already asked of
        :attr:`rbac_enforced` for this request); ``None`` otherwise or on error."""
        rbac = self.auth.rbac
        if rbac is None or not (self.rbac_enforced if enforced is None else enforced):
            return None
        try:
            roles = list(await maybe_await(rbac.get_roles(user)))
            permissions = list(await maybe_await(rbac.get_permissions(user)))
        except Exception:
            logger.warning("RBAC provider failed for user %s", user.id, exc_info=True)
            return None
        return roles, permissions

    # -- may they do it ---------------------------------------------------------------

    async def unauthenticated(self, caller: Caller) -> PermissionDenied:
        """401; a session cookie that did not authenticate is cleared (SPEC 9.2). 503 when
        the credential could not be checked at all (the identity provider is down)."""
        if caller.unavailable is not None:
            return PermissionDenied(
                caller.unavailable.status, caller.unavailable.body(), caller.unavailable.headers()
            )
        if caller.refusal is not None:  # an API key: its own 401 (or 429), no cookie to clear
            refusal = caller.refusal
            return PermissionDenied(refusal.status, refusal.body(), refusal.headers())
        headers: list[tuple[str, str]] = []
        if caller.session_id and self.auth.session is not None:
            try:
                headers = list(await maybe_await(self.auth.session.get_clear_session_headers()))
            except Exception:
                headers = []
        return PermissionDenied(401, {"error": _UNAUTHENTICATED}, headers)

    async def check_permission(
        self,
        request: HTTPConnection,
        caller: Caller,
        wanted: Sequence[str],
        *,
        resource: AuditResource,
        fail_closed: bool = False,
    ) -> PermissionDenied | None:
        """May ``caller`` use any of ``wanted``? Unlicensed RBAC skips the check, or with
        ``fail_closed`` refuses everything (S29); no RBAC slot is auth-only mode."""
        if not is_feature_licensed(self.auth, "rbac"):
            if fail_closed:
                return PermissionDenied(403, {"error": "Forbidden", "message": LICENSE_REQUIRED})
            if not wanted or caller.may_any(wanted):  # an API key's scopes still bind
                return None
            return await self._missing_permission(request, caller, wanted, resource)
        if not wanted:
            return None
        if self.auth.rbac is None:
            if caller.may_any(wanted):
                return None
        elif caller.holds(wanted):
            return None
        return await self._missing_permission(request, caller, wanted, resource)

    async def _missing_permission(
        self, request: HTTPConnection, caller: Caller, wanted: Sequence[str], resource: AuditResource
    ) -> PermissionDenied:
        text = " or ".join(wanted)
        await record(
            request,
            "authz.denied",
            "denied",
            user=caller.user,
            resource=resource,
            metadata={
                "permission": text,
                "method": request.scope.get("method", "GET"),
                "path": request.url.path,
            },
        )
        message = f"Missing required permission: {text}"
        return PermissionDenied(403, {"error": "Forbidden", "message": message})

    async def check_route(
        self, request: HTTPConnection, caller: Caller, route: ApiRoute | None, method: str, rel: str
    ) -> PermissionDenied | None:
        """The middleware's question for a route: its effective permission (SPEC 4.3),
        then the resource ACL of ``/agents|workflows|tools/<id>`` paths."""
        missing = self._missing(caller, route, method, rel)
        segments = rel.strip("/").split("/")
        if missing is not None:
            wanted, is_permission = missing
            resource_id = segments[1] if is_permission and len(segments) > 1 else rel
            resource = AuditResource(type=segments[0] or "route", id=resource_id)
            return await self._missing_permission(request, caller, wanted, resource)
        return await self._check_acl(request, caller, method, rel, segments)

    def passes_route(self, caller: Caller, route: ApiRoute | None, method: str, rel: str) -> bool:
        """``check_route`` would let ``caller`` through without asking anyone (no ACL
        slot, nothing missing): the cached request's answer, without a coroutine."""
        return self.auth.acl is None and self._missing(caller, route, method, rel) is None

    def _missing(
        self, caller: Caller, route: ApiRoute | None, method: str, rel: str
    ) -> tuple[list[str], bool] | None:
        """What ``caller`` lacks for ``route`` (and whether it is a permission rather than a
        key scope, which names the resource by its id), or ``None``."""
        # Decided when the credentials were checked (at most the auth cache's TTL ago),
        # as ``Caller.may`` does: no licence check on every request.
        enforced = caller.rbac
        # Without RBAC the owner side counts as ``*``; an API key's scopes bind anyway.
        if enforced or caller.scopes is not None:
            required = effective_permission(
                route.permission if route is not None else None,
                method,
                rel,
                requires_auth=route.requires_auth if route is not None else True,
            )
            wanted = [required] if isinstance(required, str) else list(required or ())
            granted = caller.holds(wanted) if enforced else caller.may_any(wanted)
            if wanted and not granted:
                return wanted, True
        if route is not None and route.key_scope and not caller.scoped(route.key_scope):
            return [route.key_scope], False
        return None

    async def _check_acl(
        self, request: HTTPConnection, caller: Caller, method: str, rel: str, segments: list[str]
    ) -> PermissionDenied | None:
        acl, user = self.auth.acl, caller.user
        if (
            acl is None
            or user is None
            or len(segments) < 2
            or segments[0] not in _ACL_TYPES
            or not segments[1]
        ):
            return None
        if not is_feature_licensed(self.auth, "acl"):
            return None
        kind = _ACL_TYPES[segments[0]]
        derived = derive_permission(method, rel) or "x:read"
        action = derived.split(":", 2)[1]
        resource = ResourceIdentifier(type=kind, id=segments[1])
        try:
            allowed = bool(await acl.can_access(user, resource, action))
        except Exception:
            logger.warning("ACL provider failed", exc_info=True)
            allowed = False
        if allowed:
            return None
        await record(
            request,
            "authz.denied",
            "denied",
            user=caller.user,
            resource=AuditResource(type=kind, id=segments[1]),
            metadata={"resource": f"{kind}:{segments[1]}", "method": method, "path": request.url.path},
        )
        return PermissionDenied(
            403, {"error": "Forbidden", "message": f"Access denied to {kind} '{segments[1]}'"}
        )
