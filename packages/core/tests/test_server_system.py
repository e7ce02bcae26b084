"""Operations routes (issue #12): ``/system/health``, ``/system/ready`` and the docs page."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from mastra.core.ee.errors import ProviderUnavailable
from mastra.core.ee.interfaces import SupportsHealthCheck
from mastra.core.server.routes import system
from mastra.core.testing.postgres import start_postgres
from mastra.core.testing.reference import reference_app, reference_settings
from mastra.core.testing.servers import free_port


def client(app: Any, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 5000)), base_url="http://localhost"
    )


async def test_health_answers_without_auth_or_database() -> None:
    # A database nobody listens on: liveness must not depend on it, readiness must.
    url = f"postgresql+asyncpg://app:hunter2-secret@127.0.0.1:{free_port()}/app"
    app = reference_app(reference_settings(url))
    async with client(app) as c:
        health = await c.get("/api/system/health")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = await c.get("/api/system/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"] == {"database": "fail"}
    assert body["error"] == "Service unavailable"
    assert body["message"] == "Not ready: database"
    assert ready.headers["retry-after"] == "5"
    assert "hunter2" not in ready.text and "127.0.0.1" not in ready.text and "asyncpg" not in ready.text


async def test_ready_on_sqlite(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url))
    async with client(app) as c:
        ready = await c.get("/api/system/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"database": "ok"}})


@pytest.mark.postgres
async def test_ready_turns_503_when_postgres_stops() -> None:
    server = start_postgres()
    try:
        app = reference_app(reference_settings(server.url))
        app.state.mastra_ee.readiness.ttl = 0  # every probe runs the checks
        async with client(app) as c:
            assert (await c.get("/api/system/ready")).status_code == 200
            server.stop()
            ready = await c.get("/api/system/ready")
    finally:
        server.stop()
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "fail"}
    assert str(server.port) not in ready.text


class _Backend:
    def __init__(self, healthy: bool = True, hang: bool = False) -> None:
        self.healthy, self.hang, self.calls = healthy, hang, 0

    async def check_health(self) -> None:
        self.calls += 1
        if self.hang:
            await asyncio.sleep(30)
        if not self.healthy:
            raise ProviderUnavailable("backend at https://user:pw@idp.internal down")


def _with_check(sqlite_url: str, backend: _Backend) -> Any:
    app = reference_app(reference_settings(sqlite_url))
    app.state.mastra_ee.auth.user.check_health = backend.check_health
    assert isinstance(app.state.mastra_ee.auth.user, SupportsHealthCheck)
    return app


async def test_ready_runs_provider_checks(sqlite_url: str) -> None:
    backend = _Backend()
    async with client(_with_check(sqlite_url, backend)) as c:
        ready = await c.get("/api/system/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "user:reference": "ok"}
    assert backend.calls == 1  # one provider object in several slots is checked once


async def test_probes_share_one_round_of_checks_for_a_second(sqlite_url: str) -> None:
    # /system/ready is public and answers any Host: a flood must not become one database
    # query and one provider call per request.
    backend = _Backend()
    app = _with_check(sqlite_url, backend)
    async with client(app) as c:
        statuses = await asyncio.gather(*(c.get("/api/system/ready") for _ in range(30)))
        statuses += [await c.get("/api/system/ready") for _ in range(10)]
        assert {r.status_code for r in statuses} == {200}
        assert backend.calls == 1
        app.state.mastra_ee.readiness.invalidate()  # as if the second had passed
        backend.healthy = False
        assert (await c.get("/api/system/ready")).status_code == 503
    assert backend.calls == 2


async def test_failing_provider_check_is_503_naming_it(sqlite_url: str) -> None:
    async with client(_with_check(sqlite_url, _Backend(healthy=False))) as c:
        ready = await c.get("/api/system/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "user:reference": "fail"}
    assert ready.json()["message"] == "Not ready: user:reference"
    assert "idp.internal" not in ready.text and "pw@" not in ready.text


async def test_hanging_provider_check_times_out(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "CHECK_TIMEOUT", 0.05)
    async with client(_with_check(sqlite_url, _Backend(hang=True))) as c:
        ready = await c.get("/api/system/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["user:reference"] == "fail"


async def test_system_routes_are_public_unlimited_and_documented(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, auth={"rate_limit": {"ip": "2/60"}})
    app = reference_app(settings)
    async with client(app) as c:
        # A browser-looking cross-site request with a cookie: no CSRF or auth on GET probes.
        headers = {"origin": "https://evil.example", "cookie": "mastra_session=garbage"}
        statuses = {(await c.get("/api/system/ready", headers=headers)).status_code for _ in range(20)}
        doc = (await c.get("/api/openapi.json")).json()
    assert statuses == {200}
    for path in ("/api/system/health", "/api/system/ready", "/api/system/metrics", "/api/docs"):
        assert doc["paths"][path]["get"]["security"] == []
    assert set(doc["paths"]["/api/system/ready"]["get"]["responses"]) >= {"200", "503"}


# -- the docs page ---------------------------------------------------------------------


async def test_docs_page_references_the_openapi_document(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url))
    async with client(app) as c:
        page = await c.get("/api/docs")
        assets = {
            name: await c.get(f"/api/docs/{name}")
            for name in ("swagger-ui-bundle.js", "swagger-ui.css", "docs-init.js", "LICENSE")
        }
        unknown = await c.get("/api/docs/index.html")
        traversal = await c.get("/api/docs/..%2F_docs.py")
    assert page.status_code == 200
    assert 'data-openapi-url="openapi.json"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<script>" not in page.text  # every script is a file: the CSP forbids inline ones
    assert all(r.status_code == 200 for r in assets.values())
    assert assets["swagger-ui-bundle.js"].headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in assets["swagger-ui-bundle.js"].text
    assert "Apache License" in assets["LICENSE"].text
    assert unknown.status_code == 404
    assert traversal.status_code in {401, 404}


@pytest.mark.parametrize(
    ("env", "enabled", "status"),
    [("production", None, 404), ("production", True, 200), ("development", False, 404)],
)
async def test_docs_page_setting(sqlite_url: str, env: str, enabled: bool | None, status: int) -> None:
    extra: dict[str, Any] = {"env": env, "public_url": "http://localhost", "ee_license": "l" * 40}
    if enabled is not None:
        extra["docs_enabled"] = enabled
    app = reference_app(reference_settings(sqlite_url, **extra))
    async with client(app) as c:
        assert (await c.get("/api/docs")).status_code == status
        assert (await c.get("/api/docs/swagger-ui.css")).status_code == status


def test_docs_setting_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from mastra.core.ee.settings import Settings

    monkeypatch.setenv("MASTRA_DOCS_ENABLED", "false")
    monkeypatch.setenv("MASTRA_METRICS_ENABLED", "true")
    monkeypatch.setenv("MASTRA_METRICS_TOKEN", "scrape-me")
    settings = Settings()
    assert settings.docs_ui_enabled is False
    assert settings.metrics_enabled is True
    assert settings.metrics_token is not None and settings.metrics_token.get_secret_value() == "scrape-me"
    assert Settings(env="production").docs_ui_enabled is False
    monkeypatch.delenv("MASTRA_DOCS_ENABLED")
    assert Settings().docs_ui_enabled is True
