"""FastAPI integration: the security schemes of the guards, the ``CurrentUser`` /
``OptionalUser`` aliases and one merged OpenAPI document.

Imported only by FastAPI hosts (``inspect.signature`` of a guard, the aliases, or
``mount_ee`` on a ``FastAPI`` app): Starlette-only hosts never import FastAPI.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from ..ee.models import EEUser
from ..ee.sessions._session_cookie import DEFAULT_COOKIE_NAME
from ._context import EEContext
from ._deps import Guard, PermissionRequirement, UserRequirement, current_user
from ._openapi import BEARER_DESCRIPTION, SESSION_DESCRIPTION, build_openapi, merge_openapi

__all__ = ["CurrentUser", "OptionalUser", "dependency_signature", "install_openapi"]

# ``auto_error=False``: the schemes only document the credentials (and give /docs its
# Authorize button); the guard's AuthPipeline decides, with the SPEC error bodies.
BEARER = HTTPBearer(scheme_name="mastraBearer", description=BEARER_DESCRIPTION, auto_error=False)
SESSION = APIKeyCookie(
    name=DEFAULT_COOKIE_NAME, scheme_name="mastraSession", description=SESSION_DESCRIPTION, auto_error=False
)

#: The signed-in user; 401 without one. ``async def me(user: CurrentUser): ...``
CurrentUser = Annotated[EEUser, Depends(current_user())]
#: The signed-in user or ``None``. ``async def home(user: OptionalUser): ...``
OptionalUser = Annotated[EEUser | None, Depends(current_user(optional=True))]


@functools.cache
def dependency_signature() -> inspect.Signature:
    """What FastAPI sees of a guard: ``request`` plus the two security schemes."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature(
        [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
            inspect.Parameter(
                "mastra_bearer",
                keyword,
                default=Depends(BEARER),
                annotation=HTTPAuthorizationCredentials | None,
            ),
            inspect.Parameter("mastra_session", keyword, default=Depends(SESSION), annotation=str | None),
        ]
    )


def install_openapi(app: FastAPI, ctx: EEContext) -> None:
    """Make ``app.openapi()`` (``/openapi.json``, ``/docs``) one document: the host's
    routes, with 401/403 on those our guards protect, and the EE routes under the
    prefix. Built on first request like FastAPI's own, after every route exists."""
    host_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = host_openapi()  # FastAPI caches this very dict, so it is completed in place
        schemas = merge_openapi(doc, build_openapi(ctx.table, ctx.prefix))
        error_ref = {"$ref": f"#/components/schemas/{schemas.get('Error', 'Error')}"}
        _document_guards(app, doc, error_ref)
        cookie = _session_cookie_name(ctx)
        for scheme in doc.get("components", {}).get("securitySchemes", {}).values():
            if scheme.get("description") == SESSION_DESCRIPTION:
                scheme["name"] = cookie
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _session_cookie_name(ctx: EEContext) -> str:
    cookie = getattr(ctx.auth.session, "cookie", None)
    name = getattr(cookie, "name", None)
    return name if isinstance(name, str) else DEFAULT_COOKIE_NAME


def _guards(dependant: Dependant) -> Iterator[Guard]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, Guard):
            yield sub.call
        yield from _guards(sub)


def _document_guards(app: FastAPI, doc: dict[str, Any], error_ref: dict[str, Any]) -> None:
    """The answers a guard adds to a host route: 401 (no signed-in user), 403 (missing
    permission), with the SPEC error body."""
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        guards = list(_guards(route.dependant))
        statuses: dict[str, str] = {}
        if any(
            isinstance(g, PermissionRequirement) or (isinstance(g, UserRequirement) and not g.optional)
            for g in guards
        ):
            statuses["401"] = "Not signed in, or the session or token is invalid or expired"
        if any(isinstance(g, PermissionRequirement) for g in guards):
            statuses["403"] = "Signed in without the required permission"
        permissions = sorted(
            {p for g in guards if isinstance(g, PermissionRequirement) for p in g.permissions}
        )
        for method in route.methods or ():
            op = doc.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            for status, description in statuses.items():
                responses.setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": error_ref}}},
                )
            if permissions:
                op.setdefault("x-permission", permissions if len(permissions) > 1 else permissions[0])
