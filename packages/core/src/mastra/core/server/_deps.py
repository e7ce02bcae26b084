"""``require_permission``: guard a host application's own routes.

One object, two uses::

    @app.get("/agents/{id}/run")                          # FastAPI dependency
    async def run(user = Depends(require_permission("agents:execute"))): ...

    @require_permission("agents:execute")                  # Starlette endpoint decorator
    async def run(request): ...

With no argument the permission is derived from the method and path (SPEC 4.3;
paths under the API prefix are made prefix-relative first). Several arguments are
any-of. The user comes from the middleware's ``request.state`` or, outside the
protected paths, is authenticated on the spot the same way.

The guard fails closed (S29): with no authentication configured (the auth plugin
missing or blocked, or ``mount_ee`` never called) it answers 503; where permissions
cannot be checked because RBAC is unlicensed in production, 403. A host route it
guards is never served to an anonymous caller by accident.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from ..ee.license import is_feature_licensed
from ..ee.models import AuditResource, EEUser
from ..ee.permissions import compile_permissions, derive_permission
from ._audit import record
from ._authn import authenticate_request, rbac_access
from ._paths import relative_to_prefix

__all__ = ["PermissionDenied", "PermissionRequirement", "require_permission"]


NOT_CONFIGURED = "Authentication is not configured"
LICENSE_REQUIRED = "Permission checks require a valid EE license"


class PermissionDenied(HTTPException):
    """Raised by the dependency form; ``mount_ee`` registers a handler rendering it.

    An ``HTTPException`` so that even an app without that handler answers with the
    right status instead of a 500 (or, worse, a pass).
    """

    def __init__(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(status, detail=body.get("message") or body.get("error"))
        self.status = status
        self.body = body
        self.response_headers = headers or []

    def response(self) -> JSONResponse:
        from ._responses import json_response

        return json_response(self.body, self.status, headers=self.response_headers)


class PermissionRequirement:
    def __init__(self, permissions: tuple[str, ...]) -> None:
        self.permissions = permissions

    def _required(self, request: HTTPConnection, prefix: str) -> list[str]:
        if self.permissions:
            return list(self.permissions)
        path = request.url.path
        path = relative_to_prefix(path, prefix) or path
        method = request.scope.get("method", "GET")
        derived = derive_permission(method, path)
        return [derived] if derived else []

    async def check(self, request: HTTPConnection) -> EEUser:
        """The authorised user; raises :class:`PermissionDenied` (401/403/503)."""
        ctx = getattr(request.app.state, "mastra_ee", None)
        if ctx is None or ctx.auth.user is None:
            raise PermissionDenied(503, {"error": NOT_CONFIGURED})
        user: EEUser | None = getattr(request.state, "user", None)
        permissions: list[str] | None = getattr(request.state, "permissions", None) if user else None
        if user is None:
            outcome = await authenticate_request(ctx, Request(request.scope), sliding=True)
            if outcome.user is None:
                raise PermissionDenied(401, {"error": "Invalid or expired token"})
            user = outcome.user
            access = await rbac_access(ctx, user)
            permissions = access[1] if access else []
            request.state.user, request.state.token = user, outcome.token
            request.state.roles = access[0] if access else []
            request.state.permissions, request.state.session = permissions, outcome.session
        if not is_feature_licensed(ctx.auth, "rbac"):
            raise PermissionDenied(403, {"error": "Forbidden", "message": LICENSE_REQUIRED})
        if ctx.auth.rbac is None:
            return user  # auth-only mode, chosen by configuration (dev or licensed)
        wanted = self._required(request, ctx.prefix)
        if wanted and not compile_permissions(permissions or []).allows_any(wanted):
            text = " or ".join(wanted)
            await record(
                request,
                "authz.denied",
                "denied",
                user=user,
                resource=AuditResource(type=wanted[0].split(":", 1)[0], id=request.url.path),
                metadata={
                    "permission": text,
                    "method": request.scope.get("method", "GET"),
                    "path": request.url.path,
                },
            )
            raise PermissionDenied(
                403, {"error": "Forbidden", "message": f"Missing required permission: {text}"}
            )
        return user

    async def _dependency(self, request: HTTPConnection) -> EEUser:
        return await self.check(request)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # FastAPI calls with ``request=`` (keyword); a decorator receives the endpoint.
        if "request" in kwargs:
            return self._dependency(kwargs["request"])
        if len(args) == 1 and isinstance(args[0], HTTPConnection):
            return self._dependency(args[0])
        if len(args) == 1 and callable(args[0]):
            return self._decorate(args[0])
        raise TypeError("require_permission(...) is used as a dependency or as a decorator")

    def _decorate(self, endpoint: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                await self.check(request)
            except PermissionDenied as denied:
                return denied.response()
            return await endpoint(request, *args, **kwargs)

        return guarded


# FastAPI inspects ``__call__`` for the dependency signature and awaitability; point it
# at the async form so ``Depends(require_permission(...))`` receives ``request``.
PermissionRequirement.__call__.__wrapped__ = PermissionRequirement._dependency  # type: ignore[attr-defined]
# Real annotation objects: FastAPI cannot resolve string annotations through an instance.
PermissionRequirement.__call__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
    ]
)


def require_permission(*permissions: str) -> PermissionRequirement:
    return PermissionRequirement(tuple(permissions))
