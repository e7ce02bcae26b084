"""SPEC 9: every error body under the API prefix carries ``message`` (the reference Studio
shows ``message``; a body that names only ``error`` repeats it there)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastra.core.ee import hookimpl
from mastra.core.ee.errors import AuthError, InvalidCredentials, RateLimited
from mastra.core.ee.routes import PluginRoute
from mastra.core.testing.reference import reference_app, reference_settings
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"


async def plugin_refuses(request: Request) -> JSONResponse:
    return JSONResponse({"error": "Plugin says no", "code": "nope"}, status_code=409)


async def plugin_explains(request: Request) -> JSONResponse:
    return JSONResponse({"error": "Bad intent", "message": "intent must be one of a, b"}, status_code=400)


async def plugin_text(request: Request) -> PlainTextResponse:
    return PlainTextResponse("plain refusal", status_code=400)


async def plugin_ok(request: Request) -> JSONResponse:
    return JSONResponse({"error": "not an error: 200"})


async def plugin_crashes(request: Request) -> JSONResponse:
    raise RuntimeError("boom")


class ErrorPlugin:
    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        return [
            PluginRoute("GET", "/errors/refuse", plugin_refuses, requires_auth=False),
            PluginRoute("GET", "/errors/explain", plugin_explains, requires_auth=False),
            PluginRoute("GET", "/errors/text", plugin_text, requires_auth=False),
            PluginRoute("GET", "/errors/ok", plugin_ok, requires_auth=False),
            PluginRoute("GET", "/errors/crash", plugin_crashes, requires_auth=False),
            PluginRoute("POST", "/errors/small", plugin_ok, requires_auth=False, max_body=10),
            PluginRoute("POST", "/agents/{id}/generate", plugin_ok),
        ]


@pytest.fixture
def app(sqlite_url: str) -> Any:
    settings = reference_settings(sqlite_url, auth={"rate_limit": {"ip": "100/60", "account": "2/300"}})
    return reference_app(settings, plugins={"errors": ErrorPlugin()})


def client_for(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def sign_up(client: httpx.AsyncClient, email: str) -> None:
    r = await client.post(
        "/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD}, headers=ORIGIN
    )
    assert r.status_code == 201, r.text


async def test_every_error_path_carries_message(app: Any) -> None:
    seen: dict[str, httpx.Response] = {}
    async with client_for(app) as anonymous, client_for(app) as owner, client_for(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        seen["401 unauthenticated"] = await anonymous.get("/api/audit")
        seen["401 sign-in"] = await anonymous.post(
            "/api/auth/credentials/sign-in",
            json={"email": "x@example.com", "password": "nope"},
            headers=ORIGIN,
        )
        for _ in range(2):
            await anonymous.post(
                "/api/auth/credentials/sign-in",
                json={"email": "owner@example.com", "password": "wrong"},
                headers=ORIGIN,
            )
        seen["429 rate limited"] = await anonymous.post(
            "/api/auth/credentials/sign-in",
            json={"email": "owner@example.com", "password": "wrong"},
            headers=ORIGIN,
        )
        seen["401 refresh"] = await anonymous.post("/api/auth/refresh", headers=ORIGIN)
        seen["400 validation"] = await anonymous.post(
            "/api/auth/credentials/sign-in", content=b"{not json", headers=ORIGIN
        )
        seen["400 sign-up policy"] = await anonymous.post(
            "/api/auth/credentials/sign-up",
            json={"email": "p@example.com", "password": "short"},
            headers=ORIGIN,
        )
        seen["403 csrf"] = await owner.post(
            "/api/agents/a1/generate", headers={"origin": "http://evil.example"}
        )
        seen["403 permission"] = await viewer.post("/api/agents/a1/generate", headers=ORIGIN)
        seen["403 admin"] = await viewer.get("/api/auth/roles/owner/permissions")
        seen["403 preflight"] = await anonymous.options(
            "/api/auth/me", headers={"origin": "http://evil.example", "access-control-request-method": "GET"}
        )
        seen["400 host"] = await anonymous.get("/api/auth/me", headers={"host": "evil.example"})
        seen["404 own namespace"] = await owner.get("/api/auth/nothing-here")
        seen["404 beyond"] = await owner.get("/api/nothing-here")
        seen["404 audit event"] = await owner.get("/api/audit/missing")
        seen["404 session"] = await owner.delete("/api/auth/sessions/missing", headers=ORIGIN)
        seen["405"] = await owner.delete("/api/auth/me", headers=ORIGIN)
        seen["400 export format"] = await owner.get("/api/audit/export?format=xml")
        seen["400 query"] = await owner.get("/api/audit?perPage=0")
        seen["413 declared"] = await anonymous.post(
            "/api/auth/credentials/sign-in", content=b"x" * (2 << 20), headers=ORIGIN
        )
        seen["413 plugin"] = await anonymous.post("/api/errors/small", content=b"x" * 100, headers=ORIGIN)
        seen["409 plugin"] = await anonymous.get("/api/errors/refuse")
        seen["500 plugin"] = await anonymous.get("/api/errors/crash")
    for name, response in seen.items():
        assert response.status_code == int(name.split()[0]), (name, response.status_code, response.text)
        body = response.json()
        assert isinstance(body.get("message"), str) and body["message"], (name, body)
        assert isinstance(body.get("error"), str) and body["error"], (name, body)
    assert seen["400 validation"].json()["issues"]
    assert seen["401 unauthenticated"].json() == {
        "error": "Invalid or expired token",
        "message": "Invalid or expired token",
    }
    assert seen["403 permission"].json()["message"].startswith("Missing required permission: ")
    assert seen["409 plugin"].json() == {
        "error": "Plugin says no",
        "code": "nope",
        "message": "Plugin says no",
    }
    assert int(seen["409 plugin"].headers["content-length"]) == len(seen["409 plugin"].content)


async def test_plugin_bodies_that_need_no_message_are_untouched(app: Any) -> None:
    async with client_for(app) as client:
        explained = await client.get("/api/errors/explain")
        assert explained.json() == {"error": "Bad intent", "message": "intent must be one of a, b"}
        text = await client.get("/api/errors/text")
        assert (text.status_code, text.text) == (400, "plain refusal")
        ok = await client.get("/api/errors/ok")
        assert (ok.status_code, ok.json()) == (200, {"error": "not an error: 200"})


def test_auth_error_body_repeats_the_message() -> None:
    assert AuthError().body() == {"error": "Authentication error", "message": "Authentication error"}
    assert InvalidCredentials().body()["message"] == "Invalid email or password"
    limited = RateLimited(retry_after=5)
    assert limited.body() == {"error": limited.message, "message": "Too many attempts. Try again later."}
