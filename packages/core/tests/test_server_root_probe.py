"""The reference Studio's first request, from its own origin: ``fetch(<server>/)`` must be
``ok`` (2xx) or it shows its "Mastra instance URL" form instead of the app (issue #11).

``fetch`` follows redirects and every hop needs CORS, so our studio's ``/`` → ``/login``
redirect fails the probe even though the 302 itself carries CORS (SPEC 9.2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.server import mount_ee
from mastra.core.testing.reference import reference_app, reference_plugin, reference_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

STUDIO = "http://127.0.0.1:3000"


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url, trusted_origins=[STUDIO]))


async def test_a_trusted_origin_probe_of_the_root_is_ok_with_cors(app: Any) -> None:
    async with client_for(app) as c:
        r = await c.get("/", headers={"origin": STUDIO}, follow_redirects=True)
        assert r.status_code == 200, r.headers
        assert r.headers["access-control-allow-origin"] == STUDIO
        assert r.json() == {"status": "ok"}
        head = await c.head("/", headers={"origin": STUDIO})
        assert head.status_code == 200 and head.headers["access-control-allow-origin"] == STUDIO


async def test_navigations_and_other_origins_still_get_the_studio_redirect(app: Any) -> None:
    async with client_for(app) as c:
        for headers in ({}, {"origin": "http://evil.example"}):
            r = await c.get("/", headers=headers)
            assert r.status_code == 302 and r.headers["location"] == "/login?redirect=/", headers
            assert "access-control-allow-origin" not in r.headers


async def host_root(request: Request) -> Response:
    if "go" in request.query_params:
        return RedirectResponse("/elsewhere")
    return PlainTextResponse("Hello to the Mastra API!")


async def test_a_host_root_keeps_its_answer_unless_it_redirects(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, trusted_origins=[STUDIO])
    registry = PluginRegistry.default(settings, load_entry_points=False)
    registry.register(reference_plugin(), "reference")
    host = Starlette(routes=[Route("/", host_root)])
    mount_ee(host, settings=settings, auth=build_auth(settings, registry), registry=registry)
    async with client_for(host) as c:
        r = await c.get("/", headers={"origin": STUDIO})
        assert r.text == "Hello to the Mastra API!" and r.headers["access-control-allow-origin"] == STUDIO
        r = await c.get("/?go=1", headers={"origin": STUDIO})
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert r.headers["access-control-allow-origin"] == STUDIO and "location" not in r.headers
        r = await c.get("/?go=1")
        assert r.status_code == 307 and r.headers["location"] == "/elsewhere"
