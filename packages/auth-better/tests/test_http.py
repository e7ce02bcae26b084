"""The embedded default behind the real server app (credential routes, SPEC 9.4)."""

from __future__ import annotations

import httpx
import pytest
from mastra.auth.better.plugin import plugin as better_plugin
from mastra.core.ee.plugins import PluginRegistry, build_auth

from .conftest import make_settings

ORIGIN = "http://localhost"


@pytest.fixture
def app(sqlite_url: str):
    from mastra.core.server import create_app

    settings = make_settings(
        sqlite_url,
        auth={
            "user": "better",
            "credentials": "better",
            "session": "cookie",
            "rbac": "static",
            "audit_storage": "memory",
        },
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    return create_app(settings, auth=build_auth(settings, registry), registry=registry, reset_delay=0.01)


async def test_sign_up_me_sign_in_over_http(app) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN}) as client:
        created = await client.post(
            "/api/auth/credentials/sign-up", json={"email": "web@example.com", "password": "web password"}
        )
        assert created.status_code == 201, created.text
        assert "mastra_session=" in created.headers["set-cookie"]
        me = (await client.get("/api/auth/me")).json()
        assert me["email"] == "web@example.com" and me["roles"] == ["owner"] and "*" in me["permissions"]

        client.cookies.clear()
        wrong = await client.post(
            "/api/auth/credentials/sign-in", json={"email": "web@example.com", "password": "bad password"}
        )
        unknown = await client.post(
            "/api/auth/credentials/sign-in", json={"email": "nobody@example.com", "password": "bad password"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert (
            wrong.json()
            == unknown.json()
            == {"error": "Invalid email or password", "message": "Invalid email or password"}
        )
        ok = await client.post(
            "/api/auth/credentials/sign-in", json={"email": "WEB@example.com", "password": "web password"}
        )
        assert ok.status_code == 200 and ok.json()["user"]["email"] == "web@example.com"
        assert "token" not in ok.json()  # the session is the core cookie, not provider-owned
        duplicate = await client.post(
            "/api/auth/credentials/sign-up", json={"email": "web@example.com", "password": "web password"}
        )
        assert duplicate.status_code == 400
        weak = await client.post(
            "/api/auth/credentials/sign-up", json={"email": "weak@example.com", "password": "short1"}
        )
        assert weak.json() == {
            "error": "Password must be at least 8 characters",
            "message": "Password must be at least 8 characters",
        }


class CountingReads:
    """Counts calls of one session-lookup coroutine (the registry or Better Auth table read)."""

    def __init__(self, owner: object, name: str) -> None:
        self.original = getattr(owner, name)
        self.calls = 0
        setattr(owner, name, self)

    async def __call__(self, *args: object) -> object:
        self.calls += 1
        return await self.original(*args)


@pytest.mark.parametrize("session", ["cookie", "better"])
async def test_one_authenticated_request_reads_the_session_once(sqlite_url: str, session: str) -> None:
    """The server reads the cookie and validates it once; the embedded provider resolves the
    user from that read instead of validating again (nothing patched on the provider)."""
    from mastra.core.server import create_app

    settings = make_settings(
        sqlite_url, auth={"user": "better", "credentials": "better", "session": session, "rbac": "static"}
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    auth = build_auth(settings, registry)
    app = create_app(settings, auth=auth, registry=registry, auth_cache_ttl=0)
    assert "validate_session" not in vars(auth.session)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN}) as client:
        created = await client.post(
            "/api/auth/credentials/sign-up", json={"email": "once@example.com", "password": "web password"}
        )
        assert created.status_code == 201, created.text
        reads = (
            CountingReads(auth.session.registry, "find_by_token_hash")
            if session == "cookie"
            else CountingReads(auth.user.store, "find_session")
        )
        sessions = await client.get("/api/auth/sessions")  # protected: the middleware authenticates
        assert sessions.status_code == 200 and sessions.json()["sessions"][0]["current"] is True
        assert reads.calls == 1


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/auth/credentials/sign-in", {"email": "web@example.com", "password": "web password"}),
        ("/api/auth/credentials/sign-up", {"email": "web@example.com", "password": "web password"}),
    ],
    ids=["sign-in", "sign-up"],
)
async def test_an_unreachable_database_is_503_not_a_refusal(path: str, body: dict[str, str]) -> None:
    """A database outage is the provider being unavailable, not a wrong password (401) or
    a refused sign-up (400): clients retry a 503 instead of telling the user they erred."""
    from mastra.core.server import create_app

    settings = make_settings(
        "postgresql+asyncpg://127.0.0.1:1/x",
        auth={
            "user": "better",
            "credentials": "better",
            "session": "cookie",
            "audit_storage": "memory",
            "rate_limit": {"storage": "memory"},  # the limiter's own outage is a separate 503
        },
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    app = create_app(settings, auth=build_auth(settings, registry), registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN}) as client:
        response = await client.post(path, json=body)
    assert response.status_code == 503, response.text
    assert response.json() == {"error": "Auth provider unavailable", "message": "Auth provider unavailable"}
