"""``require_permission`` and ``current_user``: guard a host application's own routes.

One object, two uses::

    @app.get("/agents/{id}/run")                          # FastAPI dependency
    async def run(user = Depends(require_permission("agents:execute"))): ...

    @app.get("/me")
    async def me(user: CurrentUser): ...                  # = Depends(current_user())

    @require_permission("agents:execute")                  # Starlette endpoint decorator
    async def run(request): ...

    async def page(request):                               # Starlette, in the handler
        user = await current_user(optional=True).check(request)

With no argument the permission is derived from the method and path (SPEC 4.3;
paths under the API prefix are made prefix-relative first). Several arguments are
any-of. The caller comes from the middleware or, outside the protected paths, from
the same :class:`~._pipeline.AuthPipeline`, which also answers the permission check.

The guard fails closed (S29): with no authentication configured (the auth plugin
missing or blocked, or ``mount_ee`` never called) it answers 503; where permissions
cannot be checked because RBAC is unlicensed in production, 403. A host route it
guards is never served to an anonymous caller by accident.

For FastAPI both carry the ``mastraBearer`` and ``mastraSession`` security schemes
(``/docs`` shows the Authorize button) and ``mount_ee`` lists their 401/403 answers in
the host's OpenAPI document. FastAPI is imported only when FastAPI asks for that
signature, so Starlette-only hosts never import it.
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
from ._authn import Caller
from ._context import EEContext, find_ee_context
from ._paths import relative_to_prefix
from ._pipeline import NOT_CONFIGURED, PermissionDenied, remember_caller, remembered_caller

__all__ = ["Guard", "PermissionRequirement", "UserRequirement", "current_user", "require_permission"]


class _FastAPISignature:
    """``inspect.signature(guard)`` as FastAPI reads it: the request plus the security
    schemes. Built on first use, so only FastAPI hosts import FastAPI."""

    def __get__(self, guard: object, owner: type | None = None) -> inspect.Signature | None:
        if guard is None:
            return None  # the class itself: inspect falls back to its usual rules
        from ._fastapi import dependency_signature

        return dependency_signature()


class Guard:
    """The part both guards share: FastAPI dependency, Starlette decorator, ``check``."""

    __signature__ = _FastAPISignature()

    async def check(self, request: HTTPConnection) -> EEUser | None:
        raise NotImplementedError

    async def _caller(self, request: HTTPConnection, ctx: EEContext) -> Caller:
        """The middleware's caller, else one identified now (and remembered)."""
        caller = remembered_caller(request)
        if caller is None or caller.user is None:
            caller = await ctx.pipeline.identify(Request(request.scope))
            if caller.user is not None:
                remember_caller(request.scope, caller)
        return caller

    async def _dependency(self, request: HTTPConnection) -> EEUser | None:
        return await self.check(request)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # FastAPI calls with ``request=`` (keyword); a decorator receives the endpoint.
        if "request" in kwargs:
            return self._dependency(kwargs["request"])
        if len(args) == 1 and isinstance(args[0], HTTPConnection):
            return self._dependency(args[0])
        if len(args) == 1 and callable(args[0]):
            return self._decorate(args[0])
        raise TypeError(f"{type(self).__name__} is used as a dependency or as a decorator")

    def _decorate(self, endpoint: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                await self.check(request)
            except PermissionDenied as denied:
                return denied.response()
            return await endpoint(request, *args, **kwargs)

        return guarded


# FastAPI decides from ``__call__`` whether the dependency is awaited; point it at the
# async form. The parameters come from ``Guard.__signature__``.
Guard.__call__.__wrapped__ = Guard._dependency  # type: ignore[attr-defined]


class UserRequirement(Guard):
    """:func:`current_user`: the signed-in user, 401 without one (or ``None``)."""

    def __init__(self, optional: bool) -> None:
        self.optional = optional

    async def check(self, request: HTTPConnection) -> EEUser | None:
        """The signed-in user. Raises :class:`PermissionDenied`: 401 (SPEC body; a stale
        session cookie is cleared) without one unless ``optional``, 503 when
        authentication is not configured or the identity provider cannot be reached."""
        ctx = find_ee_context(request)
        if ctx is None or ctx.auth.user is None:
            if self.optional:
                return None  # the route serves anonymous callers anyway
            raise PermissionDenied(503, {"error": NOT_CONFIGURED})
        caller = await self._caller(request, ctx)
        if caller.user is not None:
            return caller.user
        if self.optional and caller.unavailable is None:
            return None
        raise await ctx.pipeline.unauthenticated(caller)


class PermissionRequirement(Guard):
    """:func:`require_permission`: the signed-in user holding one of the permissions."""

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
        caller = await self._caller(request, ctx)
        if caller.user is None:
            raise await ctx.pipeline.unauthenticated(caller)
        wanted = self._required(request, ctx.prefix)
        resource = AuditResource(type=wanted[0].split(":", 1)[0] if wanted else "route", id=request.url.path)
        denied = await ctx.pipeline.check_permission(
            request, caller, wanted, resource=resource, fail_closed=True
        )
        if denied is not None:
            raise denied
        return caller.user


def require_permission(*permissions: str) -> PermissionRequirement:
    """A guard admitting signed-in callers holding any of ``permissions``.

    With none, the permission is derived from the request's method and path. As a
    FastAPI dependency it returns the :class:`~mastra.core.ee.models.EEUser`; as a
    Starlette decorator it answers 401/403/503 itself (SPEC error bodies) and the user
    is in ``request.state.user``.
    """
    return PermissionRequirement(tuple(permissions))


def current_user(optional: bool = False) -> UserRequirement:
    """A guard giving the signed-in :class:`~mastra.core.ee.models.EEUser`.

    Without a signed-in caller it answers 401 with the SPEC body, or with
    ``optional=True`` gives ``None``. No permission is checked: combine with
    :func:`require_permission` (or use it alone, it returns the user too).

    * FastAPI: ``user: EEUser = Depends(current_user())``, or the aliases
      ``CurrentUser`` / ``OptionalUser`` from :mod:`mastra.core.server`.
    * Starlette: ``user = await current_user().check(request)`` in a handler (the 401
      is raised as :class:`PermissionDenied`, which ``mount_ee`` renders), or
      ``@current_user()`` on the endpoint.
    """
    return UserRequirement(optional)
