"""Operations routes under ``/system`` (public by SPEC 9.2, never rate limited) and the docs page.

* ``GET /system/health`` — liveness: the process answers. Touches nothing else.
* ``GET /system/ready`` — readiness: ``SELECT 1`` on the project database and every
  provider implementing :class:`SupportsHealthCheck`; 503 names what failed. Bodies
  carry check names and ``ok``/``fail`` only, never DSNs or error texts (those go to
  the log, by exception type). One round of checks serves every probe for a second
  (``EEContext.readiness``).
* ``GET /system/metrics`` — Prometheus text format when ``MASTRA_METRICS_ENABLED``
  (404 otherwise). Answers ``Authorization: Bearer <MASTRA_METRICS_TOKEN>`` from
  anywhere, and without a token configured only direct loopback callers.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from ...ee.db import get_engine
from ...ee.interfaces import SupportsHealthCheck
from .._context import EEContext
from .._metrics import find_metrics
from .._origin import client_ip
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._docs import docs_routes
from ._sessions import context

__all__ = ["CHECK_TIMEOUT", "METRICS_REFUSED", "readiness_checks", "system_routes"]

logger = logging.getLogger("mastra.server")

#: Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT = 3.0
# Headers a reverse proxy adds: a request carrying one came through a proxy, so its
# loopback socket peer says nothing about the real client.
_FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")

METRICS_REFUSED = "Metrics need the metrics token (MASTRA_METRICS_TOKEN) or a loopback caller"

Check = Callable[[], Awaitable[None]]


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


def _database_check(url: str) -> Check:
    async def check() -> None:
        async with get_engine(url).connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def readiness_checks(ctx: EEContext) -> dict[str, Check]:
    """Name → check: ``database``, then ``<slot>:<provider>`` for each provider that can
    say whether its backend answers (one entry per provider object)."""
    checks: dict[str, Check] = {"database": _database_check(ctx.settings.database_url)}
    selection = ctx.settings.auth.selection()
    seen: set[int] = set()
    for slot, provider in ctx.auth.slots().items():
        if provider is None or id(provider) in seen:
            continue
        seen.add(id(provider))
        if isinstance(provider, SupportsHealthCheck):
            checks[f"{slot}:{selection.get(slot, type(provider).__name__)}"] = provider.check_health
    return checks


async def _passes(name: str, check: Check) -> bool:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except Exception as exc:
        # The type only: driver messages can carry host names or DSN fragments.
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return False
    return True


async def _run_checks(ctx: EEContext) -> dict[str, bool]:
    checks = readiness_checks(ctx)
    results = await asyncio.gather(*(_passes(name, check) for name, check in checks.items()))
    return dict(zip(checks, results, strict=True))


async def ready(request: Request) -> Response:
    ctx = context(request)
    passed = await ctx.readiness.get("ready", lambda: _run_checks(ctx))
    outcome = {name: "ok" if ok else "fail" for name, ok in passed.items()}
    failed = [name for name, state in outcome.items() if state == "fail"]
    if not failed:
        return json_response({"status": "ready", "checks": outcome})
    body = {
        "status": "unavailable",
        "error": "Service unavailable",
        "message": f"Not ready: {', '.join(failed)}",
        "checks": outcome,
    }
    return json_response(body, 503, headers=[("retry-after", "5")])


def _metrics_caller_ok(request: Request) -> bool:
    settings = context(request).settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
    if settings.trusted_proxy_count <= 0 and any(h in request.headers for h in _FORWARDING_HEADERS):
        return False
    ip = client_ip(request, settings)
    try:
        return ip is not None and ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    collected = find_metrics(request.app)
    if collected is None:
        return error_response("Not found", 404)
    if not _metrics_caller_ok(request):
        return error_response("Forbidden", 403, message=METRICS_REFUSED)
    body, content_type = collected.exposition()
    return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})


def system_routes() -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/system/health",
            health,
            requires_auth=False,
            tag="system",
            summary="Liveness: the server answers",
            responses={200: "Alive"},
        ),
        ApiRoute(
            "GET",
            "/system/ready",
            ready,
            requires_auth=False,
            tag="system",
            summary="Readiness: database and providers reachable",
            responses={200: "Ready", 503: "A named check failed"},
        ),
        ApiRoute(
            "GET",
            "/system/metrics",
            metrics,
            requires_auth=False,
            tag="system",
            summary="Prometheus metrics (MASTRA_METRICS_ENABLED; metrics token or loopback)",
            responses={200: "Prometheus text format", 403: "Caller not allowed", 404: "Metrics disabled"},
        ),
        *docs_routes(),
    ]
