"""Prometheus metrics of one app (``MASTRA_METRICS_ENABLED``), served at ``<prefix>/system/metrics``.

Each app owns its :class:`CollectorRegistry` (``app.state.mastra_metrics``): two apps in
one process (tests, a host mounting twice) never share or collide on series. Labels are
bounded: requests are counted by route *template* (``/audit/{eventId}``), never by raw
path, and unmatched paths share one label.

``prometheus-client`` is the optional extra ``mastra-core[metrics]``; enabling metrics
without it is a startup error that says so.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..ee.errors import ConfigurationError
from ._paths import relative_to_prefix

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.types import Message, Receive, Scope, Send

    from ..ee.models import AuditEventInput
    from ._context import EEContext

__all__ = ["UNMATCHED_ROUTE", "Metrics", "build_metrics", "count_event", "find_metrics"]

#: The ``route`` label of requests under the prefix that match no route.
UNMATCHED_ROUTE = "<unmatched>"
# Audit actions whose outcome is a sign-in, and the method each stands for.
_SIGN_IN_ACTIONS = {"auth.sign-in": "password", "auth.sso-callback": "sso"}

Handler = Callable[["Scope", "Receive", "Send"], Awaitable[None]]


class Metrics:
    """The collectors of one app; create with :func:`build_metrics`."""

    def __init__(self, ctx: EEContext) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self._ctx = ctx
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mastra_http_requests",
            "Requests under the API prefix by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mastra_http_request_duration_seconds",
            "Time to the end of the response, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "mastra_sign_in",
            "Sign-in outcomes by method (password, sso), outcome and failure reason.",
            ["method", "outcome", "reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "mastra_rate_limit_hits",
            "Requests refused by a failure rate limit (429), by audit action.",
            ["action"],
            registry=self.registry,
        )
        self.audit_events = Counter(
            "mastra_audit_events",
            "Audit events the server recorded, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_AuditQueueDepth(ctx))

    async def observe(self, scope: Scope, receive: Receive, send: Send, handler: Handler) -> None:
        """Run ``handler`` and count the request when its path is under the prefix."""
        rel = relative_to_prefix(scope["path"], self._ctx.prefix)
        if rel is None:
            await handler(scope, receive, send)
            return
        method: str = scope["method"]
        route, _ = self._ctx.table.match(method, rel)
        template = route.path if route is not None else UNMATCHED_ROUTE
        status = 500  # what the client sees when the handler raises before answering
        started = time.perf_counter()

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await handler(scope, receive, send_counting)
        finally:
            self.requests.labels(method, template, str(status)).inc()
            self.latency.labels(method, template).observe(time.perf_counter() - started)

    def count_event(self, event: AuditEventInput) -> None:
        self.audit_events.labels(event.outcome).inc()
        reason = str(event.metadata.get("reason", "")) if event.outcome != "success" else ""
        method = _SIGN_IN_ACTIONS.get(event.action)
        if method is not None:
            self.sign_ins.labels(method, event.outcome, reason[:64]).inc()
        if reason == "rate_limited":
            self.rate_limited.labels(event.action).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _AuditQueueDepth:
    """``mastra_audit_queue_depth``: events the buffered audit writer still holds, read at
    scrape time (0 without a buffered writer)."""

    def __init__(self, ctx: EEContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        storage = getattr(self._ctx.auth, "audit_storage", None)
        writer = getattr(storage, "writer", None)
        pending = getattr(writer, "pending", 0) if writer is not None else 0
        yield GaugeMetricFamily(
            "mastra_audit_queue_depth",
            "Audit events queued by the buffered writer and not yet committed.",
            value=float(pending),
        )


def build_metrics(ctx: EEContext) -> Metrics | None:
    """The app's :class:`Metrics` when ``MASTRA_METRICS_ENABLED``, else ``None``.

    Raises :class:`ConfigurationError` when enabled without ``prometheus-client``."""
    if not ctx.settings.metrics_enabled:
        return None
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "MASTRA_METRICS_ENABLED needs prometheus-client: pip install 'mastra-core[metrics]'"
        ) from None
    return Metrics(ctx)


def find_metrics(app: Any) -> Metrics | None:
    metrics = getattr(app.state, "mastra_metrics", None)
    return metrics if isinstance(metrics, Metrics) else None


def count_event(request: HTTPConnection, event: AuditEventInput) -> None:
    """Count an audit event the server records (sign-ins, rate-limit hits, writes)."""
    metrics = find_metrics(request.app)
    if metrics is not None:
        metrics.count_event(event)
