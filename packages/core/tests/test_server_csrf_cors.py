"""SPEC 9.2 CSRF and CORS as the real clients meet them: a server-side ``fetch`` with no
browser headers signs in; the Studio on its own origin gets through its preflight and
its ``GET /`` probe; a host app's own ``CORSMiddleware`` never yields two
``Access-Control-Allow-Origin`` headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.server import mount_ee
from mastra.core.testing.reference import reference_app, reference_plugin, reference_settings
from starlette.middleware.cors import CORSMiddleware

PASSWORD = "correct horse battery"
STUDIO = "http://localhost:4111"
FORBIDDEN = {"error": "Forbidden", "message": "Cross-origin request rejected"}


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


def header_count(response: httpx.Response, name: str) -> int:
    return len(response.headers.get_list(name))


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url, trusted_origins=[STUDIO]))


# -- CSRF ------------------------------------------------------------------------------


async def test_a_request_with_no_browser_headers_signs_in(app: Any) -> None:
    """Node ``fetch`` from a server sends no Cookie, Origin, Referer or Sec-Fetch-Site."""
    async with client_for(app) as script:
        body = {"email": "script@example.com", "password": PASSWORD}
        assert (await script.post("/api/auth/credentials/sign-up", json=body)).status_code == 201
        script.cookies.clear()
        r = await script.post("/api/auth/credentials/sign-in", json=body)
        assert r.status_code == 200, r.text
        token = r.json().get("token")
        script.cookies.clear()
        refresh = await script.post("/api/auth/refresh")
        assert refresh.status_code == 401  # past CSRF, no session: the route's own answer
        assert refresh.json()["error"] == "No session"
    if token:
        async with client_for(app) as bearer:
            me = await bearer.get("/api/auth/me", headers={"authorization": f"Bearer {token}"})
            assert me.json()["email"] == "script@example.com"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"referer": "http://evil.example/page"},
        {"sec-fetch-site": "cross-site"},  # a browser that stripped Origin and Referer
        {"cookie": "mastra_session=whatever"},
    ],
    ids=["origin", "null-origin", "referer", "sec-fetch-site", "cookie"],
)
async def test_browser_like_cross_origin_posts_are_still_refused(app: Any, headers: dict[str, str]) -> None:
    async with client_for(app) as browser:
        for path in ("/api/auth/credentials/sign-in", "/api/auth/logout", "/api/auth/refresh"):
            r = await browser.post(
                path, json={"email": "a@example.com", "password": PASSWORD}, headers=headers
            )
            assert (r.status_code, r.json()) == (403, FORBIDDEN), (path, headers)


async def test_a_cookie_session_without_origin_is_still_refused(app: Any) -> None:
    async with client_for(app) as browser:
        r = await browser.post(
            "/api/auth/credentials/sign-up",
            json={"email": "b@example.com", "password": PASSWORD},
            headers={"origin": STUDIO},
        )
        assert r.status_code == 201 and browser.cookies
        r = await browser.delete("/api/auth/sessions")  # the session cookie, no Origin
        assert (r.status_code, r.json()) == (403, FORBIDDEN)
        assert (await browser.delete("/api/auth/sessions", headers={"origin": STUDIO})).status_code == 200


# -- CORS ------------------------------------------------------------------------------


async def test_studio_preflight_allows_its_headers_and_the_configured_ones(sqlite_url: str) -> None:
    settings = reference_settings(
        sqlite_url, trusted_origins=[STUDIO], cors_allow_headers="X-Tenant, x-trace"
    )
    app = reference_app(settings)
    async with client_for(app) as c:
        r = await c.options(
            "/api/auth/me",
            headers={
                "origin": STUDIO,
                "access-control-request-method": "GET",
                "access-control-request-headers": "x-mastra-client-type, x-mastra-dev-playground",
            },
        )
        assert r.status_code == 204
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {
            "authorization",
            "content-type",
            "x-requested-with",
            "x-mastra-client-type",
            "x-mastra-dev-playground",
            "x-tenant",
            "x-trace",
        } <= allowed
        assert r.headers["access-control-allow-origin"] == STUDIO
        assert r.headers["access-control-allow-credentials"] == "true"


def test_cors_allow_headers_setting_reads_comma_and_json_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    from mastra.core.ee.settings import Settings

    monkeypatch.setenv("MASTRA_CORS_ALLOW_HEADERS", "X-A, X-B")
    assert Settings().cors_allow_headers == ["X-A", "X-B"]
    monkeypatch.setenv("MASTRA_CORS_ALLOW_HEADERS", '["X-C"]')
    assert Settings().cors_allow_headers == ["X-C"]


async def test_the_root_probe_gets_cors_and_only_from_trusted_origins(app: Any) -> None:
    async with client_for(app) as c:
        r = await c.get("/", headers={"origin": STUDIO})
        assert r.headers["access-control-allow-origin"] == STUDIO
        assert r.headers["access-control-allow-credentials"] == "true"
        r = await c.options("/", headers={"origin": STUDIO, "access-control-request-method": "GET"})
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == STUDIO
        r = await c.get("/", headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        # Other studio paths are not the API: no CORS from us there.
        r = await c.get("/login", headers={"origin": STUDIO})
        assert "access-control-allow-origin" not in r.headers


def host_app(sqlite_url: str, *, cors_first: bool, cors: bool = True) -> FastAPI:
    settings = reference_settings(sqlite_url, trusted_origins=[STUDIO])
    registry = PluginRegistry.default(settings, load_entry_points=False)
    registry.register(reference_plugin(), "reference")
    host = FastAPI()

    @host.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @host.get("/")
    async def root() -> dict[str, str]:
        return {"root": "host"}

    def add_host_cors() -> None:
        host.add_middleware(
            CORSMiddleware,
            allow_origins=[STUDIO, "http://host-only.example"],
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["x-host-header"],
        )

    if cors_first:
        add_host_cors()
    mount_ee(
        host,
        settings=settings,
        auth=build_auth(settings, registry),
        registry=registry,
        sso_state_store="memory",
        cors=cors,
    )
    if not cors_first:
        add_host_cors()
    return host


@pytest.mark.parametrize("cors_first", [True, False], ids=["host-cors-inside", "host-cors-outside"])
async def test_host_cors_middleware_never_doubles_the_allow_origin(sqlite_url: str, cors_first: bool) -> None:
    host = host_app(sqlite_url, cors_first=cors_first)
    async with client_for(host) as c:
        for path in ("/hello", "/", "/api/auth/me", "/api/auth/capabilities"):
            r = await c.get(path, headers={"origin": STUDIO})
            assert r.status_code == 200, (path, r.text)
            assert header_count(r, "access-control-allow-origin") == 1, (path, r.headers)
            assert r.headers["access-control-allow-origin"] == STUDIO
            assert header_count(r, "access-control-allow-credentials") == 1, path
        # Host routes keep the host's CORS answer: its own origins and headers.
        r = await c.get("/hello", headers={"origin": "http://host-only.example"})
        assert r.headers.get_list("access-control-allow-origin") == ["http://host-only.example"]
        r = await c.options(
            "/hello",
            headers={
                "origin": STUDIO,
                "access-control-request-method": "GET",
                "access-control-request-headers": "x-host-header",
            },
        )
        assert r.status_code == 200  # Starlette's CORSMiddleware, not our 204
        assert "x-host-header" in r.headers["access-control-allow-headers"].lower()
        assert "x-mastra-client-type" not in r.headers["access-control-allow-headers"].lower()


async def test_api_preflight_is_ours_when_the_host_cors_runs_inside(sqlite_url: str) -> None:
    host = host_app(sqlite_url, cors_first=True)
    async with client_for(host) as c:
        r = await c.options(
            "/api/auth/me",
            headers={"origin": STUDIO, "access-control-request-method": "GET"},
        )
        assert r.status_code == 204
        assert header_count(r, "access-control-allow-origin") == 1
        assert "x-mastra-client-type" in r.headers["access-control-allow-headers"]


async def test_mount_ee_without_cors_leaves_cors_to_the_host(sqlite_url: str) -> None:
    host = host_app(sqlite_url, cors_first=True, cors=False)
    async with client_for(host) as c:
        r = await c.get("/api/auth/me", headers={"origin": "http://host-only.example"})
        assert r.headers.get_list("access-control-allow-origin") == ["http://host-only.example"]
        r = await c.options(
            "/api/auth/me", headers={"origin": STUDIO, "access-control-request-method": "GET"}
        )
        assert r.status_code == 200  # the host's preflight answer, not ours (204)
        assert "x-mastra-client-type" not in r.headers.get("access-control-allow-headers", "").lower()
    bare = reference_app(reference_settings(sqlite_url, trusted_origins=[STUDIO]), cors=False)
    async with client_for(bare) as c:
        r = await c.get("/api/auth/me", headers={"origin": STUDIO})
        assert "access-control-allow-origin" not in r.headers
