"""May they do it: the authorization half of :class:`~._pipeline.AuthPipeline`.

Each answer is ``None`` or a :class:`PermissionDenied` with the SPEC status and body;
every 403 of an authenticated caller is audited as ``authz.denied``. The route check has
a synchronous answer for the common case (:meth:`RouteChecks.passes_route`), so a granted
cached request awaits nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from ..ee.errors import error_body
from ..ee.interfaces import maybe_await
from ..ee.license import is_feature_licensed
from ..ee.models import AuditResource, ResourceIdentifier
from ..ee.permissions import derive_permission, effective_permission
from ._audit import record
from ._authn import Caller
from ._responses import json_response

if TYPE_CHECKING:
    from ..ee.provider import MastraAuthProvider
    from ._spec import ApiRoute

__all__ = ["LICENSE_REQUIRED", "PermissionDenied", "RouteChecks"]

logger = logging.getLogger("mastra.server")

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


class RouteChecks:
    """The checks of :class:`~._pipeline.AuthPipeline` that need only its providers."""

    auth: MastraAuthProvider

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
