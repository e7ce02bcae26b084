"""Request bodies (S25) and the small response rules of finding 18.

* Every route under the prefix, plugin routes included, reads its body through the
  core's streamed cap: over it is 413 at once, however the body is sent.
* Any body that fails to parse, however it fails, is 400 (never 500).
* JSON 404/405 under the API, ``nosniff`` on every API response, unknown ``/auth/*``
  paths 404 whoever asks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mastra.core.ee import hookimpl
from mastra.core.ee.routes import PluginRoute
from mastra.core.testing.reference import reference_app, reference_settings
from starlette.requests import Request
from starlette.responses import JSONResponse

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"
CHUNK = 64 * 1024


async def read_all(request: Request) -> JSONResponse:
    body = await request.body()  # what a webhook handler does before checking a signature
    return JSONResponse({"read": len(body)})


class BodyRoutes:
    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        return [
            PluginRoute("POST", "/plugin/hook", read_all, requires_auth=False, csrf=False),
            PluginRoute("POST", "/plugin/small", read_all, requires_auth=False, csrf=False, max_body=10_000),
        ]


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url), plugins={"body": BodyRoutes()})


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


class Chunks:
    """A chunked body that counts how much of it the server pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            self.sent += CHUNK
            yield b"x" * CHUNK


async def test_plugin_route_body_is_capped_while_streaming(app: Any) -> None:
    """Finding 7: a chunked 200 MiB webhook POST was read whole before any check."""
    body = Chunks(64 * 1024 * 1024)
    async with client_for(app) as c:
        r = await c.post("/api/plugin/hook", content=body)
    assert r.status_code == 413
    assert r.json() == {"error": "Request body too large", "message": "Request body too large"}
    assert body.sent <= (1 << 20) + 2 * CHUNK  # stopped right after the 1 MiB cap


async def test_declared_length_over_the_cap_is_refused_unread(app: Any) -> None:
    body = Chunks(2 * 1024 * 1024)
    async with client_for(app) as c:
        r = await c.post("/api/plugin/hook", content=body, headers={"content-length": str(2 * 1024 * 1024)})
    assert r.status_code == 413
    assert body.sent <= CHUNK


async def test_per_route_cap_and_bodies_under_it(app: Any) -> None:
    async with client_for(app) as c:
        assert (await c.post("/api/plugin/small", content=b"y" * 10_000)).json() == {"read": 10_000}
        assert (await c.post("/api/plugin/small", content=Chunks(20_000))).status_code == 413
        assert (await c.post("/api/plugin/hook", content=b"z" * 500_000)).json() == {"read": 500_000}


async def test_core_route_body_is_capped_too(app: Any) -> None:
    body = Chunks(8 * 1024 * 1024)
    async with client_for(app) as c:
        r = await c.post("/api/auth/credentials/sign-in", content=body, headers=ORIGIN)
    assert r.status_code == 413
    assert body.sent <= (1 << 20) + 2 * CHUNK


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,  # finding 8: recursion depth exceeded -> was a 500
        b'{"email":' * 50_000,
        b"{" + b'"a":[' * 30_000,
        b"\xff\xfe\x00",
        b'{"email": "a@b.c", "password": "\\ud800"}',
        b"NaN",
        b'{"email": 1e999999, "password": "x"}',
        b"\x00" * 100,
    ],
)
async def test_unparsable_bodies_are_400(app: Any, raw: bytes) -> None:
    async with client_for(app) as c:
        r = await c.post(
            "/api/auth/credentials/sign-in",
            content=raw,
            headers={**ORIGIN, "content-type": "application/json"},
        )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "Invalid request"


async def test_api_errors_are_json_and_nosniff(app: Any) -> None:
    """Finding 18: JSON 404/405, nosniff on every API response."""
    async with client_for(app) as c:
        r = await c.delete("/api/auth/capabilities", headers=ORIGIN)
        assert (r.status_code, r.json()) == (
            405,
            {"error": "Method not allowed", "message": "Method not allowed"},
        )
        assert r.headers["allow"] == "GET, HEAD"
        r = await c.get("/api/no/such/route")
        assert r.status_code == 401  # protected by default: who asks is checked first
        await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "o@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        r = await c.get("/api/no/such/route")
        assert (r.status_code, r.json()) == (404, {"error": "Not found", "message": "Not found"})
        r = await c.get("/no-such-studio-page")
        assert r.status_code == 404
        for r in (
            await c.get("/api/auth/capabilities"),
            await c.get("/api/auth/me"),
            await c.get("/api/audit"),
            await c.get("/api/openapi.json"),
            await c.delete("/api/auth/capabilities", headers=ORIGIN),
        ):
            assert r.headers["x-content-type-options"] == "nosniff", r.url


async def test_unknown_auth_paths_are_404_for_everyone(app: Any) -> None:
    """Finding 18: an unknown /auth/* path was 403 for a signed-in viewer."""
    async with client_for(app) as owner, client_for(app) as viewer, client_for(app) as anon:
        await owner.post(
            "/api/auth/credentials/sign-up",
            json={"email": "o@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        await viewer.post(
            "/api/auth/credentials/sign-up",
            json={"email": "v@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        for c in (owner, viewer, anon):
            for path in ("/api/auth/nope", "/api/auth/sessions/x/y/z", "/api/audit/export/extra"):
                r = await c.get(path)
                assert (r.status_code, r.json()) == (404, {"error": "Not found", "message": "Not found"}), (
                    path,
                    r.text,
                )


@pytest.mark.parametrize("http_version", ["1.1", "2", "3"])
async def test_a_body_without_length_headers_is_still_capped(app: Any, http_version: str) -> None:
    """HTTP/2 and 3 frame bodies without Content-Length or Transfer-Encoding, and a host
    app's middleware (request decompression) may deliver one over HTTP/1 without either:
    the body is counted against the cap all the same."""
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < 64 * 1024 * 1024}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": http_version,
        "method": "POST",
        "scheme": "http",
        "path": "/api/plugin/hook",
        "raw_path": b"/api/plugin/hook",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 5000),
        "server": ("localhost", 80),
        "state": {},
    }
    async with client_for(app):  # lifespan-less: the app builds its context on first use
        await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert pulled <= (1 << 20) + 2 * CHUNK
