"""The embedded default behind the real server app (credential routes, SPEC 9.4)."""

from __future__ import annotations

import httpx
import pytest
from mastra.auth.better import plugin as better_plugin
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
        assert wrong.json() == unknown.json() == {"error": "Invalid email or password"}
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
        assert weak.json() == {"error": "Password must be at least 8 characters"}
