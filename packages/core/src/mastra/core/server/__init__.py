"""The EE HTTP API (SPEC 9): Starlette app factory, auth middleware, route modules.

* :func:`create_app` — standalone app (API under the prefix, then the studio).
* :func:`mount_ee` — add the same routes and middleware to any Starlette/FastAPI app.
* :func:`require_permission` — dependency/decorator for a host's own routes.
* :func:`current_user` — the signed-in user (401, or ``None`` with ``optional=True``);
  for FastAPI also the ``Annotated`` aliases ``CurrentUser`` and ``OptionalUser``
  (importing them imports FastAPI; nothing else here does).
* :func:`ee_context` — the :class:`EEContext` of the app serving a request: how
  plugin routes reach the composed provider (``ee_context(request).auth``) and the
  settings.
* Helpers: :func:`public_origin`, :func:`validate_redirect`, :func:`client_ip`,
  :func:`request_actor`.
* :class:`BoundedHttpToolsProtocol` — the uvicorn protocol ``mastra-ee serve`` runs:
  httptools with h11's 16 KiB bound on the request head (imported on request).

The middleware, :func:`require_permission` and the studio authenticate and authorize
through one :class:`AuthPipeline`; for authenticated requests the middleware sets
``request.state.user``, ``token``, ``roles``, ``permissions`` and ``session``.
"""

from typing import TYPE_CHECKING, Any

from ._app import create_app, mount_ee, redact_query_tokens
from ._audit import record, request_actor
from ._authn import Caller
from ._context import EEContext, ee_context
from ._deps import PermissionRequirement, UserRequirement, current_user, require_permission
from ._middleware import AuthMiddleware
from ._openapi import build_openapi, merge_openapi
from ._origin import client_ip, public_origin, validate_redirect
from ._pipeline import AuthPipeline, PermissionDenied
from ._spec import ApiRoute, RouteTable

if TYPE_CHECKING:
    from ._fastapi import CurrentUser, OptionalUser
    from ._httptools import BoundedHttpToolsProtocol

__all__ = [
    "ApiRoute",
    "AuthMiddleware",
    "AuthPipeline",
    "BoundedHttpToolsProtocol",
    "Caller",
    "CurrentUser",
    "EEContext",
    "OptionalUser",
    "PermissionDenied",
    "PermissionRequirement",
    "RouteTable",
    "UserRequirement",
    "build_openapi",
    "client_ip",
    "create_app",
    "current_user",
    "ee_context",
    "merge_openapi",
    "mount_ee",
    "public_origin",
    "record",
    "redact_query_tokens",
    "request_actor",
    "require_permission",
    "validate_redirect",
]


def __getattr__(name: str) -> Any:
    # The FastAPI aliases import FastAPI: only on request, so Starlette hosts never do.
    if name in ("CurrentUser", "OptionalUser"):
        from . import _fastapi

        return getattr(_fastapi, name)
    if name == "BoundedHttpToolsProtocol":  # imports uvicorn and httptools
        from ._httptools import BoundedHttpToolsProtocol

        return BoundedHttpToolsProtocol
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
