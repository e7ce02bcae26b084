"""A FastAPI host: ``current_user`` / ``require_permission`` with security schemes, and
one OpenAPI document holding the host's routes and the EE routes (issue #12)."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from mastra.core.ee.models import EEUser
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.server import CurrentUser, OptionalUser, current_user, mount_ee, require_permission
from mastra.core.testing.reference import reference_plugin, reference_settings
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PASSWORD = "correct horse battery"
ORIGIN = {"origin": "http://localhost"}
UNAUTHENTICATED = {"error": "Invalid or expired token", "message": "Invalid or expired token"}


class Error(BaseModel):
    """The host's own ``Error`` schema: ours must not replace it."""

    code: int


def mount(host: Any, sqlite_url: str) -> None:
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(reference_plugin(), "reference")
    settings = reference_settings(sqlite_url)
    auth = build_auth(settings, registry)
    mount_ee(host, settings=settings, auth=auth, registry=registry, sso_state_store="memory")


def fastapi_host(sqlite_url: str) -> FastAPI:
    api = FastAPI(title="Host")

    @api.get("/host/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"email": user.email}

    @api.get("/host/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"email": user.email if user else None}

    @api.post("/host/run")
    async def run(user: EEUser = Depends(require_permission("agents:execute"))) -> dict[str, Any]:
        return {"ran_by": user.email}

    @api.get("/host/public", responses={418: {"model": Error}})
    async def public() -> dict[str, Any]:
        return {"ok": True}

    mount(api, sqlite_url)
    return api


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def sign_up(client: httpx.AsyncClient, email: str) -> None:
    r = await client.post(
        "/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD}, headers=ORIGIN
    )
    assert r.status_code == 201, r.text


async def test_current_user_with_cookie_bearer_and_none(sqlite_url: str) -> None:
    host = fastapi_host(sqlite_url)
    async with client_for(host) as owner, client_for(host) as viewer, client_for(host) as anon:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        assert (await owner.get("/host/me")).json() == {"email": "owner@example.com"}
        assert (await viewer.get("/host/maybe")).json() == {"email": "viewer@example.com"}
        r = await anon.get("/host/me")
        assert (r.status_code, r.json()) == (401, UNAUTHENTICATED)
        assert (await anon.get("/host/maybe")).json() == {"email": None}
        # A stale session cookie: 401 for the user, anonymous for the optional user.
        stale = {"cookie": "mastra_session=not-a-session"}
        r = await anon.get("/host/me", headers=stale)
        assert (r.status_code, r.json()) == (401, UNAUTHENTICATED)
        assert (await anon.get("/host/maybe", headers=stale)).json() == {"email": None}
        assert (await owner.post("/host/run", headers=ORIGIN)).json() == {"ran_by": "owner@example.com"}
        r = await viewer.post("/host/run", headers=ORIGIN)
        assert r.status_code == 403 and r.json()["error"] == "Forbidden"
        r = await anon.post("/host/run")
        assert (r.status_code, r.json()) == (401, UNAUTHENTICATED)
    ref = host.state.mastra_ee.auth.user
    owner_id = next(u.id for u in ref.users.values() if u.email == "owner@example.com")
    ref.add_api_key("host-key-1", owner_id)
    async with client_for(host) as bearer:
        auth = {"authorization": "Bearer host-key-1"}
        assert (await bearer.get("/host/me", headers=auth)).json() == {"email": "owner@example.com"}
        assert (await bearer.post("/host/run", headers=auth)).json() == {"ran_by": "owner@example.com"}
        r = await bearer.get("/host/me", headers={"authorization": "Bearer wrong"})
        assert (r.status_code, r.json()) == (401, UNAUTHENTICATED)


async def test_current_user_in_a_starlette_handler(sqlite_url: str) -> None:
    async def whoami(request: Request) -> JSONResponse:
        user = await current_user().check(request)
        assert user is not None
        return JSONResponse({"email": user.email})

    async def maybe(request: Request) -> JSONResponse:
        user = await current_user(optional=True).check(request)
        return JSONResponse({"email": user.email if user else None})

    host = Starlette(routes=[Route("/whoami", whoami), Route("/maybe", maybe)])
    mount(host, sqlite_url)
    async with client_for(host) as owner, client_for(host) as anon:
        await sign_up(owner, "owner@example.com")
        assert (await owner.get("/whoami")).json() == {"email": "owner@example.com"}
        r = await anon.get("/whoami")
        assert (r.status_code, r.json()) == (401, UNAUTHENTICATED)
        assert (await anon.get("/maybe")).json() == {"email": None}


async def test_current_user_without_mount_ee_fails_closed() -> None:
    api = FastAPI()

    @api.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"email": user.email}

    @api.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"email": None}

    async with client_for(api) as anon:
        assert (await anon.get("/me")).status_code == 503
        assert (await anon.get("/maybe")).json() == {"email": None}


async def test_host_openapi_has_security_schemes_and_guard_responses(sqlite_url: str) -> None:
    host = fastapi_host(sqlite_url)
    async with client_for(host) as c:
        doc = (await c.get("/openapi.json")).json()
        assert (await c.get("/docs")).status_code == 200
    schemes = doc["components"]["securitySchemes"]
    assert schemes["mastraBearer"]["type"] == "http" and schemes["mastraBearer"]["scheme"] == "bearer"
    assert schemes["mastraSession"] | {"description": ""} == {
        "type": "apiKey",
        "in": "cookie",
        "name": "mastra_session",
        "description": "",
    }
    error = {"$ref": "#/components/schemas/MastraEEError"}
    run = doc["paths"]["/host/run"]["post"]
    assert {k for req in run["security"] for k in req} == {"mastraBearer", "mastraSession"}
    assert run["responses"]["401"]["content"]["application/json"]["schema"] == error
    assert run["responses"]["403"]["content"]["application/json"]["schema"] == error
    assert run["x-permission"] == "agents:execute"
    me = doc["paths"]["/host/me"]["get"]
    assert {k for req in me["security"] for k in req} == {"mastraBearer", "mastraSession"}
    assert "401" in me["responses"] and "403" not in me["responses"]
    assert "401" not in doc["paths"]["/host/maybe"]["get"]["responses"]
    public = doc["paths"]["/host/public"]["get"]
    assert "security" not in public and "401" not in public["responses"]


async def test_ee_routes_are_merged_into_the_host_document(sqlite_url: str) -> None:
    host = fastapi_host(sqlite_url)
    async with client_for(host) as c:
        doc = (await c.get("/openapi.json")).json()
        ee = (await c.get("/api/openapi.json")).json()
    assert doc["info"]["title"] == "Host"
    assert {"/host/me", "/host/run", "/host/public"} <= set(doc["paths"])
    assert set(ee["paths"]) <= set(doc["paths"])
    assert doc["paths"]["/api/auth/me"]["get"]["operationId"] == "mastra_ee_get_auth_me"
    sign_in = doc["paths"]["/api/auth/credentials/sign-in"]["post"]
    assert sign_in["tags"] == ["Mastra EE: auth"] and sign_in["security"] == []
    assert {"name": "Mastra EE: auth"} in doc["tags"]
    # The host's Error stays; ours is renamed and every reference of ours follows.
    schemas = doc["components"]["schemas"]
    assert schemas["Error"]["properties"] == {"code": {"type": "integer", "title": "Code"}}
    assert set(schemas["MastraEEError"]["properties"]) == {"error", "message"}
    refs = _refs(doc)
    assert all(ref.removeprefix("#/components/schemas/") in schemas for ref in refs)
    assert "#/components/schemas/Error" in refs  # the host's own 418 still points at it
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    _validate(doc)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _validate(doc: dict[str, Any]) -> None:
    """The OpenAPI 3.1 meta-schema (schemathesis's validator), and every operation
    resolvable (all ``$ref`` targets exist)."""
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(doc)
    schema.validate()
    operations = list(schema.get_all_operations())
    assert all(type(op).__name__ == "Ok" for op in operations)
    assert len(operations) == sum(len(ops) for ops in doc["paths"].values())


def test_starlette_hosts_never_import_fastapi() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from starlette.applications import Starlette\n"
        "from mastra.core.server import mount_ee, require_permission, current_user\n"
        "from mastra.core.ee.settings import Settings\n"
        "app = Starlette()\n"
        "mount_ee(app, settings=Settings(database_url='sqlite+aiosqlite://', auth_secret='s' * 40))\n"
        "require_permission('a:b')(lambda request: None)\n"
        "print('fastapi' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_session_scheme_names_the_cookie_actually_set(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")
    public = "https://app.example.com"
    api = FastAPI()

    @api.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {}

    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(reference_plugin(), "reference")
    settings = reference_settings(sqlite_url, env="production", public_url=public, auth={"rbac": None})
    mount_ee(
        api,
        settings=settings,
        auth=build_auth(settings, registry),
        registry=registry,
        sso_state_store="memory",
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url=public) as c:
        doc = (await c.get("/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["mastraSession"]["name"] == "__Host-mastra_session"
