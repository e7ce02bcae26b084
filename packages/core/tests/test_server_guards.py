"""Host-app guards fail closed (S29, finding 14 of the attack review): when
authentication is missing or permission checks cannot run, ``require_permission``
refuses instead of serving an anonymous caller."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.server import mount_ee, require_permission
from mastra.core.testing.reference import reference_plugin, reference_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PASSWORD = "correct horse battery"
NOT_CONFIGURED = {"error": "Authentication is not configured", "message": "Authentication is not configured"}
LICENSE_REQUIRED = {"error": "Forbidden", "message": "Permission checks require a valid EE license"}


def hosts() -> list[Any]:
    api = FastAPI()

    @api.post("/host/run")
    async def run(user: Any = Depends(require_permission("agents:execute"))) -> dict[str, Any]:
        return {"ran_by": getattr(user, "email", None)}

    @require_permission("agents:execute")
    async def star_run(request: Request) -> JSONResponse:
        return JSONResponse({"ran": True})

    star = Starlette(routes=[Route("/host/run", star_run, methods=["POST"])])
    return [api, star]


def client_for(app: Any, base_url: str = "http://localhost") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def mount(host: Any, settings: Any, *, with_reference: bool = True) -> None:
    registry = PluginRegistry()
    registry.register_builtin()
    if with_reference:
        registry.register(reference_plugin(), "reference")
    auth = build_auth(settings, registry, embedded_default=False)
    mount_ee(host, settings=settings, auth=auth, registry=registry, sso_state_store="memory")


@pytest.mark.parametrize("index", [0, 1], ids=["fastapi", "starlette"])
async def test_no_auth_configured_is_503_not_anonymous_access(sqlite_url: str, index: int) -> None:
    """The auth plugin missing or blocked: the guarded route used to answer 200."""
    from mastra.core.ee.settings import Settings

    host = hosts()[index]
    mount(host, Settings(database_url=sqlite_url), with_reference=False)
    async with client_for(host) as anon:
        r = await anon.post("/host/run", headers={"origin": "http://localhost"})
    assert (r.status_code, r.json()) == (503, NOT_CONFIGURED)


@pytest.mark.parametrize("index", [0, 1], ids=["fastapi", "starlette"])
async def test_guard_without_mount_ee_is_503(index: int) -> None:
    """No ``mount_ee`` (so no error handler of ours): still a 503, rendered by the
    framework's own HTTPException handler."""
    host = hosts()[index]
    async with client_for(host) as anon:
        r = await anon.post("/host/run")
    assert r.status_code == 503
    assert "Authentication is not configured" in r.text


@pytest.mark.parametrize("index", [0, 1], ids=["fastapi", "starlette"])
async def test_unlicensed_production_without_rbac_refuses_permission_checks(
    sqlite_url: str, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")
    public = "https://app.example.com"  # production cookies are Secure: an https origin
    settings = reference_settings(sqlite_url, env="production", public_url=public, auth={"rbac": None})
    host = hosts()[index]
    mount(host, settings)
    async with client_for(host, public) as owner:
        r = await owner.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": PASSWORD},
            headers={"origin": public},
        )
        assert r.status_code == 201, r.text
        r = await owner.post("/host/run", headers={"origin": public})
        assert (r.status_code, r.json()) == (403, LICENSE_REQUIRED)
        r = await owner.get("/api/auth/me")
        assert r.json()["email"] == "owner@example.com"  # authentication itself still works


async def test_dev_without_rbac_is_auth_only_mode(sqlite_url: str) -> None:
    """In development (and licensed production) no RBAC slot means auth-only mode."""
    host = hosts()[0]
    mount(host, reference_settings(sqlite_url, auth={"rbac": None}))
    async with client_for(host) as owner, client_for(host) as anon:
        await owner.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": PASSWORD},
            headers={"origin": "http://localhost"},
        )
        r = await owner.post("/host/run", headers={"origin": "http://localhost"})
        assert r.json() == {"ran_by": "owner@example.com"}
        r = await anon.post("/host/run")
        assert r.status_code == 401
