"""Prometheus metrics at ``<prefix>/system/metrics`` (issue #12, ``MASTRA_METRICS_ENABLED``)."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest
from mastra.core.ee.errors import ConfigurationError
from mastra.core.server.routes.system import METRICS_REFUSED
from mastra.core.testing.reference import reference_app, reference_settings
from prometheus_client.parser import text_string_to_metric_families

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"


def client(app: Any, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 5000)), base_url="http://localhost"
    )


def metrics_app(sqlite_url: str, **extra: Any) -> Any:
    settings = reference_settings(
        sqlite_url, metrics_enabled=True, auth={"rate_limit": {"account": "2/300"}}, **extra
    )
    return reference_app(settings)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(c: httpx.AsyncClient) -> dict[Any, float]:
    response = await c.get("/api/system/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def sign_in(c: httpx.AsyncClient, password: str) -> int:
    body = {"email": "a@example.com", "password": password}
    return (await c.post("/api/auth/credentials/sign-in", json=body, headers=ORIGIN)).status_code


async def test_metrics_count_requests_sign_ins_rate_limits_and_audit(sqlite_url: str) -> None:
    app = metrics_app(sqlite_url)
    async with client(app) as c:
        signup = {"email": "a@example.com", "password": PASSWORD}
        assert (await c.post("/api/auth/credentials/sign-up", json=signup, headers=ORIGIN)).status_code == 201
        c.cookies.clear()
        assert await sign_in(c, PASSWORD) == 200
        c.cookies.clear()
        assert [await sign_in(c, "wrong-password") for _ in range(3)] == [401, 401, 429]
        for event_id in ("one", "two", "three"):
            assert (await c.get(f"/api/audit/{event_id}")).status_code == 401
        assert (await c.get("/api/system/health")).status_code == 200
        found = await scrape(c)

    route = "/auth/credentials/sign-in"
    assert value(found, "mastra_http_requests_total", method="POST", route=route, status="200") == 1
    assert value(found, "mastra_http_requests_total", method="POST", route=route, status="401") == 2
    assert value(found, "mastra_http_requests_total", method="POST", route=route, status="429") == 1
    # Route templates, not raw paths: three ids, one series.
    by_id = value(found, "mastra_http_requests_total", method="GET", route="/audit/{eventId}", status="401")
    assert by_id == 3
    assert not any("one" in dict(labels).get("route", "") for _, labels in found)
    hist = value(found, "mastra_http_request_duration_seconds_count", method="POST", route=route)
    assert hist == 4
    bucket = "mastra_http_request_duration_seconds_bucket"
    assert value(found, bucket, method="POST", route=route, le="+Inf") == 4

    password = {"name": "mastra_sign_in_total", "method": "password"}
    assert value(found, **password, outcome="success", reason="") == 1
    assert value(found, **password, outcome="failure", reason="invalid_credentials") == 2
    assert value(found, **password, outcome="failure", reason="rate_limited") == 1
    assert value(found, "mastra_rate_limit_hits_total", action="auth.sign-in") == 1
    # sign-up + four sign-in events (one success, two failures, one rate limited)
    audited = value(found, "mastra_audit_events_total", outcome="success") + value(
        found, "mastra_audit_events_total", outcome="failure"
    )
    assert audited == 5
    assert value(found, "mastra_audit_queue_depth") == 0


async def test_each_app_has_its_own_registry(sqlite_url: str) -> None:
    first, second = metrics_app(sqlite_url), metrics_app(sqlite_url)
    async with client(first) as c1, client(second) as c2:
        for _ in range(3):
            await c1.get("/api/system/health")
        found = await scrape(c2)
        again = await scrape(c1)
    assert value(found, "mastra_http_requests_total", method="GET", route="/system/health", status="200") == 0
    assert value(again, "mastra_http_requests_total", method="GET", route="/system/health", status="200") == 3


async def test_metrics_off_by_default(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url))
    async with client(app) as c:
        response = await c.get("/api/system/metrics")
    assert response.status_code == 404
    assert app.state.mastra_metrics is None


async def test_metrics_answer_only_loopback_without_a_token(sqlite_url: str) -> None:
    app = metrics_app(sqlite_url)
    async with client(app, ip="10.1.2.3") as remote, client(app) as local:
        refused = await remote.get("/api/system/metrics")
        # A loopback peer that is really a proxy forwarding someone else.
        proxied = await local.get("/api/system/metrics", headers={"x-forwarded-for": "203.0.113.9"})
        direct = await local.get("/api/system/metrics")
    assert refused.status_code == 403 and refused.json()["message"] == METRICS_REFUSED
    assert proxied.status_code == 403
    assert direct.status_code == 200


async def test_metrics_token_is_required_when_set(sqlite_url: str) -> None:
    app = metrics_app(sqlite_url, metrics_token="s3cret-scrape-token")
    async with client(app, ip="10.1.2.3") as c:
        ok = await c.get("/api/system/metrics", headers={"authorization": "Bearer s3cret-scrape-token"})
        wrong = await c.get("/api/system/metrics", headers={"authorization": "Bearer nope"})
    async with client(app) as local:
        loopback_without = await local.get("/api/system/metrics")
    assert ok.status_code == 200 and "mastra_http_requests_total" in ok.text
    assert wrong.status_code == 403
    assert loopback_without.status_code == 403  # a configured token applies to everyone


def test_enabling_metrics_without_the_extra_is_a_clear_error(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails as if not installed
    with pytest.raises(ConfigurationError, match=r"mastra-core\[metrics\]"):
        metrics_app(sqlite_url)
