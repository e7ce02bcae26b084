"""``require_permission``: guard a host application's own routes.

One object, two uses::

    @app.get("/agents/{id}/run")                          # FastAPI dependency
    async def run(user = Depends(require_permission("agents:execute"))): ...

    @require_permission("agents:execute")                  # Starlette endpoint decorator
    async def run(request): ...

With no argument the permission is derived from the method and path (SPEC 4.3;
paths under the API prefix are made prefix-relative first). Several arguments are
any-of. The caller comes from the middleware or, outside the protected paths, from
the same :class:`~._pipeline.AuthPipeline`, which also answers the permission check.

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

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ..ee.models import AuditResource, EEUser
from ..ee.permissions import derive_permission
from ._context import find_ee_context
from ._paths import relative_to_prefix
from ._pipeline import NOT_CONFIGURED, PermissionDenied, remember_caller, remembered_caller

__all__ = ["PermissionRequirement", "require_permission"]


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
        ctx = find_ee_context(request)
        if ctx is None or ctx.auth.user is None:
            raise PermissionDenied(503, {"error": NOT_CONFIGURED})
        caller = remembered_caller(request)
        if caller is None or caller.user is None:
            caller = await ctx.pipeline.identify(Request(request.scope))
            if caller.user is None:
                raise await ctx.pipeline.unauthenticated(caller)
            remember_caller(request.scope, caller)
        wanted = self._required(request, ctx.prefix)
        resource = AuditResource(type=wanted[0].split(":", 1)[0] if wanted else "route", id=request.url.path)
        denied = await ctx.pipeline.check_permission(
            request, caller, wanted, resource=resource, fail_closed=True
        )
        if denied is not None:
            raise denied
        assert caller.user is not None
        return caller.user

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
