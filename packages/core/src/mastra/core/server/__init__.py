"""The EE HTTP API (SPEC 9): Starlette app factory, auth middleware, route modules.

* :func:`create_app` — standalone app (API under the prefix, then the studio).
* :func:`mount_ee` — add the same routes and middleware to any Starlette/FastAPI app.
* :func:`require_permission` — dependency/decorator for a host's own routes.
* Helpers: :func:`public_origin`, :func:`validate_redirect`, :func:`client_ip`,
  :func:`request_actor`.

The app keeps an :class:`EEContext` at ``app.state.mastra_ee``; for authenticated
requests the middleware sets ``request.state.user``, ``token``, ``roles``,
``permissions`` and ``session``.
"""

from ._app import create_app, mount_ee, redact_query_tokens
from ._audit import record, request_actor
from ._context import EEContext
from ._deps import PermissionDenied, PermissionRequirement, require_permission
from ._middleware import AuthMiddleware
from ._openapi import build_openapi
from ._origin import client_ip, public_origin, validate_redirect
from ._spec import ApiRoute, RouteTable

__all__ = [
    "ApiRoute",
    "AuthMiddleware",
    "EEContext",
    "PermissionDenied",
    "PermissionRequirement",
    "RouteTable",
    "build_openapi",
    "client_ip",
    "create_app",
    "mount_ee",
    "public_origin",
    "record",
    "redact_query_tokens",
    "request_actor",
    "require_permission",
    "validate_redirect",
]
