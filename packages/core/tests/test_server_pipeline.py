"""The one authentication + authorization path (``server/_pipeline.py``): the session is
read once per request without patching the provider, the middleware, ``require_permission``
and the studio share the pipeline (cache and refusals included), plugin routes reach the
host through ``ee_context``, and the studio is part of the server, not an optional import."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from mastra.core.ee import hookimpl
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.models import AuditFilter, Pagination
from mastra.core.ee.routes import PluginRoute
from mastra.core.server import EEContext, ee_context, mount_ee, require_permission
from mastra.core.testing.reference import reference_app, reference_plugin, reference_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"


async def whoami(request: Request) -> JSONResponse:
    # A plugin route reaching the host through the public accessor, not ``app.state``.
    ctx = ee_context(request)
    user = await ctx.auth.user.get_user(request.state.user.id)
    return JSONResponse({"email": user.email, "prefix": ctx.prefix})


class WhoAmIPlugin:
    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        return [PluginRoute("GET", "/whoami", whoami, permission=False)]


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def sign_up(client: httpx.AsyncClient, email: str) -> None:
    r = await client.post(
        "/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD}, headers=ORIGIN
    )
    assert r.status_code == 201, r.text


class CountingReads:
    """Counts the session registry's reads (``find_by_token_hash``)."""

    def __init__(self, registry: Any) -> None:
        self.original = registry.find_by_token_hash
        self.calls = 0
        registry.find_by_token_hash = self

    async def __call__(self, token_hash: str) -> Any:
        self.calls += 1
        return await self.original(token_hash)


async def test_one_authenticated_request_reads_the_session_once(sqlite_url: str) -> None:
    """The server reads the cookie and validates the session once; the user provider
    resolves the user from that same read (no memo patched onto ``validate_session``)."""
    app = reference_app(reference_settings(sqlite_url), plugins={"whoami": WhoAmIPlugin()}, auth_cache_ttl=0)
    sessions = app.state.mastra_ee.auth.session
    assert "validate_session" not in vars(sessions)  # the provider is not patched
    async with client_for(app) as c:
        await sign_up(c, "a@example.com")
        reads = CountingReads(sessions.registry)
        r = await c.get("/api/whoami")
        assert r.status_code == 200 and r.json() == {"email": "a@example.com", "prefix": "/api"}
        assert reads.calls == 1
        reads.calls = 0
        assert (await c.get("/api/auth/me")).json()["email"] == "a@example.com"
        assert reads.calls == 1


async def test_studio_pages_read_the_session_once_and_skip_the_cache(sqlite_url: str) -> None:
    """Pages go through the same pipeline, uncached: a role changed by another process
    (here: straight in the provider) shows on the very next page."""
    app = reference_app(reference_settings(sqlite_url), auth_cache_ttl=5)
    async with client_for(app) as c:
        await sign_up(c, "owner@example.com")
        reads = CountingReads(app.state.mastra_ee.auth.session.registry)
        assert (await c.get("/agents")).status_code == 200
        assert reads.calls == 1
        app.state.mastra_ee.auth.user.users[next(iter(app.state.mastra_ee.auth.user.users))].role = "nobody"
        r = await c.get("/agents")
        assert r.status_code == 403 and "No Access" in r.text


async def test_require_permission_clears_a_dead_session_cookie_like_the_middleware(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url)
    host = FastAPI()

    @host.get("/host/agents")
    async def agents(user: Any = Depends(require_permission("agents:read"))) -> dict[str, Any]:
        return {"email": user.email}

    from mastra.core.ee.plugins import PluginRegistry, build_auth

    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(reference_plugin(), "reference")
    mount_ee(host, settings=settings, auth=build_auth(settings, registry), registry=registry)
    async with client_for(host) as c:
        await sign_up(c, "a@example.com")
        assert (await c.get("/host/agents")).json() == {"email": "a@example.com"}
        cookie = c.cookies["mastra_session"]
        await c.post("/api/auth/logout", headers=ORIGIN)
        c.cookies.set("mastra_session", cookie)
        for path in ("/host/agents", "/api/auth/sessions"):
            r = await c.get(path)
            assert (r.status_code, r.json()) == (
                401,
                {"error": "Invalid or expired token", "message": "Invalid or expired token"},
            ), path
            assert r.headers["set-cookie"].startswith("mastra_session=;"), path


async def test_studio_chain_status_denial_is_audited_like_the_api(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url))
    async with client_for(app) as owner, client_for(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        r = await viewer.get("/_studio/chain-status")
        assert (r.status_code, r.json()) == (
            403,
            {"error": "Forbidden", "message": "Missing required permission: audit:read"},
        )
        page = await app.state.mastra_ee.auth.audit_storage.list(
            AuditFilter(action="authz.denied"), Pagination()
        )
        [event] = page.events
        assert event.actor.email == "viewer@example.com"
        assert event.metadata == {
            "permission": "audit:read",
            "method": "GET",
            "path": "/_studio/chain-status",
        }


async def test_ee_context_is_the_apps_context_and_refuses_an_app_without_one(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url))
    seen: list[Any] = []

    async def probe(request: Request) -> JSONResponse:
        seen.append(ee_context(request))
        return JSONResponse({})

    app.router.routes.insert(0, Route("/probe", probe))
    bare = Starlette(routes=[Route("/probe", probe)])
    async with client_for(app) as c:
        await c.get("/probe")
    assert isinstance(seen[0], EEContext) and seen[0] is app.state.mastra_ee
    with pytest.raises(ConfigurationError, match="mount_ee"):
        async with client_for(bare) as c:
            await c.get("/probe")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_studio_imports_before_the_server_without_a_cycle() -> None:
    done = _python("import mastra.core.studio, mastra.core.server; print(mastra.core.server.create_app)")
    assert done.returncode == 0, done.stderr


def test_a_broken_studio_fails_the_server_import_loudly() -> None:
    """No ``except ImportError`` hides a broken studio behind an app without pages."""
    done = _python("import sys; sys.modules['mastra.core.studio'] = None; import mastra.core.server")
    assert done.returncode != 0
    assert "mastra.core.studio" in done.stderr


async def test_an_unreachable_identity_provider_is_503_not_401(sqlite_url: str) -> None:
    """A credential that cannot be checked (the IdP's keys are unreachable) is not a bad
    credential: the middleware, ``require_permission`` and the studio's chain status answer
    503 ``Auth provider unavailable`` instead of telling the client to sign in again."""
    from mastra.core.ee.errors import ProviderUnavailable

    app = reference_app(reference_settings(sqlite_url))
    provider = app.state.mastra_ee.auth.user

    async def keys_unreachable(token: str, request: Any = None) -> None:
        raise ProviderUnavailable()

    provider.authenticate_token = keys_unreachable
    bearer = {"authorization": "Bearer some.jwt.token"}

    @require_permission("audit:read")
    async def guarded(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app.router.routes.insert(0, Route("/host/guarded", guarded))
    async with client_for(app) as client:
        for path in ("/api/audit", "/host/guarded"):
            r = await client.get(path, headers=bearer)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.json()["error"] == "Auth provider unavailable"
        # without a credential it is still the plain 401
        assert (await client.get("/api/audit")).status_code == 401


def _request_with(cookie: str, authorization: str = "") -> Request:
    headers = [(b"cookie", cookie.encode())]
    if authorization:
        headers.append((b"authorization", authorization.encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def test_auth_cache_keys_are_distinct_and_bounded() -> None:
    """Usual credentials are their own cache key (no hash per request); a long cookie
    header (junk cookies beside a valid session) is hashed, so no key passes 1 KiB, and
    no two different credentials ever share a key."""
    from mastra.core.server._authcache import AuthCache

    session = "mastra_session=" + "s" * 300
    short = AuthCache.key(_request_with(session), None)
    assert "s" * 300 in short
    junk = [AuthCache.key(_request_with(f"{session}; junk={i}{'j' * 10_000}"), None) for i in range(3)]
    assert all(len(key) == 64 and "\x00" not in key for key in junk)
    assert len(set(junk)) == 3
    keys = {
        short,
        *junk,
        AuthCache.key(_request_with(session), "tok"),
        AuthCache.key(_request_with(session), None, "10.0.0.1"),
        AuthCache.key(_request_with(session), None, "10.0.0.2"),
        AuthCache.key(_request_with(""), session),  # the same text as a token, not a cookie
        AuthCache.key(_request_with("x" * 2000), None),
    }
    assert len(keys) == 9
    assert max(len(key) for key in keys) <= 1024
