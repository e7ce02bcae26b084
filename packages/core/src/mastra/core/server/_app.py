"""``create_app`` (standalone server) and ``mount_ee`` (add the EE API to a host app)."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount

from ..ee.db import is_database_outage
from ..ee.errors import AuthError, ConfigurationError
from ..ee.plugins import PluginRegistry, build_auth
from ..ee.provider import MastraAuthProvider
from ..ee.routes import PluginRoute
from ..ee.secret import with_project_secret
from ..ee.settings import Settings, load_settings
from ..studio import studio_routes
from ._context import EEContext
from ._dispatch import ApiRoutes
from ._hosts import AllowedHosts, HostGuard
from ._lifespan import shutdown_on_lifespan
from ._metrics import build_metrics
from ._middleware import AuthMiddleware
from ._openapi import build_openapi
from ._paths import relative_to_prefix
from ._pipeline import PermissionDenied
from ._responses import error_response, json_response
from ._spec import MAX_BODY_BYTES, ApiRoute, RouteCollision, RouteTable
from .routes import api_routes

__all__ = ["create_app", "mount_ee", "redact_query_tokens"]

logger = logging.getLogger("mastra.server")

# Query parameters that carry credentials or one-time values (S16, S27): the API key,
# OAuth codes and states, reset tokens, ID token hints of logout URLs.
_SECRET_QUERY = re.compile(
    r"([?&](?:token|code|state|apiKey|api_key|id_token_hint|id_token|access_token|refresh_token)=)[^&#\s]*",
    re.IGNORECASE,
)


def redact_query_tokens(text: str) -> str:
    """``?code=abc&state=xyz`` → ``?code=[REDACTED]&state=[REDACTED]`` (tokens never reach logs)."""
    return _SECRET_QUERY.sub(r"\1[REDACTED]", text)


class _RedactApiKey(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_query_tokens(record.msg)
        return True


def install_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactApiKey) for f in access.filters):
        access.addFilter(_RedactApiKey())


def _openapi_route(table: RouteTable, prefix: str) -> ApiRoute:
    cache: dict[str, Any] = {}

    async def openapi(request: Request) -> Response:
        if "doc" not in cache:
            cache["doc"] = build_openapi(table, prefix)
        return JSONResponse(cache["doc"])

    return ApiRoute(
        "GET",
        "/openapi.json",
        openapi,
        requires_auth=False,
        tag="meta",
        summary="This OpenAPI document",
        responses={200: "OpenAPI 3.1 document"},
    )


def _plugin_route(route: PluginRoute) -> ApiRoute:
    return ApiRoute(
        route.method,
        route.path,
        route.endpoint,
        requires_auth=route.requires_auth,
        permission=route.permission,
        csrf=route.csrf if route.csrf is not None else None,
        max_body=route.max_body if route.max_body is not None else MAX_BODY_BYTES,
        summary=route.summary,
        tag=route.tag,
        source="plugin",
        responses={200: "OK"},
    )


def build_route_table(registry: PluginRegistry | None) -> RouteTable:
    table = RouteTable(api_routes())
    if registry is not None:
        for route in registry.routes():
            try:
                table.add(_plugin_route(route))
            except RouteCollision as exc:
                raise ConfigurationError(str(exc)) from None
    return table


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return json_response(exc.body(), exc.status, headers=exc.headers())


async def _permission_denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PermissionDenied)
    return exc.response()


def mount_ee(
    app: Starlette,
    *,
    settings: Settings | None = None,
    auth: MastraAuthProvider | None = None,
    registry: PluginRegistry | None = None,
    sso_state_store: Any = None,
    auth_cache_ttl: float | None = None,
    reset_delay: float = 0.5,
    host_check: Literal["api", "all", "off"] = "api",
    cors: bool = True,
) -> EEContext:
    """Add the EE routes under the prefix, the auth middleware and the error handlers.

    Works for Starlette and FastAPI apps (call before the app starts). Returns the
    :class:`EEContext`, also kept at ``app.state.mastra_ee``.

    ``host_check`` (S22): ``"api"`` refuses requests under the prefix whose ``Host``
    is not allowed, ``"all"`` every request, ``"off"`` leaves it to the host app
    (e.g. its own ``TrustedHostMiddleware``).

    ``cors`` (SPEC 9.2): ``True`` answers CORS for trusted origins under the prefix and
    for ``GET /``, leaving every other path to the host's own CORS middleware; ``False``
    leaves CORS entirely to the host.

    Raises :class:`ConfigurationError` in production without ``MASTRA_PUBLIC_URL``:
    absolute URLs (reset links, SSO callbacks) must not come from request headers.
    """
    # In development without MASTRA_AUTH_SECRET, ./.mastra/secret as `mastra-ee serve` does.
    settings = with_project_secret(settings or load_settings())
    if settings.is_production and not settings.public_url:
        raise ConfigurationError("MASTRA_PUBLIC_URL is required in production")
    if registry is None:
        registry = getattr(auth, "plugin_registry", None) if auth is not None else None
    if registry is None:
        registry = PluginRegistry.default(settings)
    if auth is None:
        auth = build_auth(settings, registry)
    table = build_route_table(registry)
    prefix = settings.normalised_api_prefix
    table.add(_openapi_route(table, prefix))
    ctx = EEContext.create(
        auth,
        settings,
        registry,
        table,
        sso_state_store=sso_state_store,
        auth_cache_ttl=settings.auth.cache_ttl if auth_cache_ttl is None else auth_cache_ttl,
        reset_delay=reset_delay,
    )
    app.state.mastra_ee = ctx
    app.state.mastra_metrics = build_metrics(ctx)  # None unless MASTRA_METRICS_ENABLED
    app.router.routes.insert(0, ApiRoutes(prefix, table))  # before any catch-all of the host
    app.add_middleware(AuthMiddleware, ctx=ctx, cors=cors)
    if host_check != "off":
        # Added last, so it runs first: nothing sees a request for a foreign host.
        app.add_middleware(
            HostGuard,
            hosts=AllowedHosts.from_settings(settings),
            trusted_proxies=settings.trusted_proxy_count,
            prefix=prefix if host_check == "api" else None,
            exempt=(prefix + "/system/health", prefix + "/system/ready"),
        )
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(PermissionDenied, _permission_denied)
    shutdown_on_lifespan(app, ctx)
    if _is_fastapi(app):
        from ._fastapi import install_openapi

        install_openapi(app, ctx)  # type: ignore[arg-type]
    install_log_redaction()
    return ctx


def _is_fastapi(app: Starlette) -> bool:
    # FastAPI is optional: an app can only be a FastAPI app if fastapi was imported.
    fastapi = sys.modules.get("fastapi")
    return fastapi is not None and isinstance(app, fastapi.FastAPI)


def _studio_routes(ctx: EEContext) -> list[BaseRoute]:
    routes = list(studio_routes(ctx))
    base = ctx.settings.normalised_studio_base.rstrip("/")
    return [Mount(base, routes=routes)] if base else routes


def create_app(
    settings: Settings | None = None,
    *,
    auth: MastraAuthProvider | None = None,
    registry: PluginRegistry | None = None,
    **options: Any,
) -> Starlette:
    """The standalone ASGI app: the EE API under the prefix, then the studio."""
    settings = settings or load_settings()

    async def internal_error(request: Request, exc: Exception) -> Response:
        if is_database_outage(exc):  # retry later: nothing is wrong with the request
            return error_response("Service unavailable", 503, message="The database is unavailable")
        return error_response("Internal server error", 500)

    prefix = settings.normalised_api_prefix

    async def http_error(request: Request, exc: Exception) -> Response:
        # Under the API prefix every error is JSON (404/405 included); studio paths keep
        # Starlette's plain text.
        assert isinstance(exc, HTTPException)
        if relative_to_prefix(request.url.path, prefix) is None:
            return PlainTextResponse(str(exc.detail), exc.status_code, headers=exc.headers)
        text = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
        return error_response(text, exc.status_code, headers=list((exc.headers or {}).items()))

    # The shutdown (providers, engines) is mount_ee's, as for any host app.
    app = Starlette(exception_handlers={500: internal_error, HTTPException: http_error})
    options.setdefault("host_check", "all")
    ctx = mount_ee(app, settings=settings, auth=auth, registry=registry, **options)
    app.router.routes.extend(_studio_routes(ctx))
    return app
