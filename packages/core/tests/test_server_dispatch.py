"""The API routes are one entry of the host router (``server/_dispatch.py``): a request
under the prefix is confirmed by its own route only, and every routing answer (params,
405 + ``Allow``, 404, ``HEAD``, trailing-slash redirect) is what the flat list of
Starlette routes gave."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastra.core.ee import hookimpl
from mastra.core.ee.routes import PluginRoute
from mastra.core.server._dispatch import ApiRoutes
from mastra.core.testing.reference import reference_app, reference_settings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match, Route

ORIGIN = {"origin": "http://localhost"}


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"params": request.path_params})


class EchoPlugin:
    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        return [
            PluginRoute("GET", "/echo/{item}", echo, requires_auth=False),
            PluginRoute("DELETE", "/echo/{item}", echo, requires_auth=False),
        ]


def _app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url), plugins={"echo": EchoPlugin()})


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def test_the_api_is_one_router_entry_matching_like_the_flat_routes(sqlite_url: str) -> None:
    app = _app(sqlite_url)
    entries = [r for r in app.router.routes if isinstance(r, ApiRoutes)]
    assert len(entries) == 1 and app.router.routes[0] is entries[0]
    api = entries[0]
    flat = [Route("/api" + r.path, r.endpoint, methods=[r.method]) for r in api.table.routes]
    requests = [
        (method, path)
        for method in ("GET", "HEAD", "POST", "DELETE", "PATCH")
        for path in (
            "/api/auth/me",
            "/api/auth/me/",
            "/api/echo/a1",
            "/api/echo/a1/b",
            "/api/echo/{item}",
            "/api/openapi.json",
            "/api/auth/credentials/sign-in",
            "/api/nowhere",
            "/elsewhere",
        )
    ]
    for method, path in requests:
        expected: tuple[Match, dict[str, Any]] = (Match.NONE, {})
        for route in flat:
            match, child = route.matches(_scope(method, path))
            if match is Match.FULL:
                expected = (match, child)
                break
            if match is Match.PARTIAL and expected[0] is Match.NONE:
                expected = (match, child)
        got, child = api.matches(_scope(method, path))
        assert got is expected[0], (method, path)
        if got is not Match.NONE:
            assert child["endpoint"] is expected[1]["endpoint"], (method, path)
            assert child["path_params"] == expected[1]["path_params"], (method, path)


def test_the_middleware_hint_changes_no_answer(sqlite_url: str) -> None:
    """With the auth middleware's match remembered in the scope, a literal route is
    answered without its regex: the answer must be the one Route.matches gives."""
    from mastra.core.server._dispatch import remember_route
    from mastra.core.server._paths import relative_to_prefix

    api = next(r for r in _app(sqlite_url).router.routes if isinstance(r, ApiRoutes))
    paths = ("/api/auth/me", "/api/auth/me/", "/api/echo/a1", "/api/echo/{item}", "/api/openapi.json")
    for method in ("GET", "POST", "DELETE", "PATCH"):
        for path in paths:
            for root_path in ("", "/mounted"):
                plain = {**_scope(method, path), "root_path": root_path}
                hinted = dict(plain)
                rel = relative_to_prefix(path, "/api")
                route = api.table.match(method, rel)[0] if rel is not None else None
                if route is not None:
                    remember_route(hinted, route)
                expected, got = api.matches(plain), api.matches(hinted)
                assert got[0] is expected[0], (method, path, root_path)
                if got[0] is not Match.NONE:
                    for name in ("endpoint", "path_params"):
                        assert got[1][name] == expected[1][name], (method, path, root_path, name)


def test_a_request_under_the_prefix_confirms_one_route(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a scan of every API route (the echo routes are the table's last)."""
    api = next(r for r in _app(sqlite_url).router.routes if isinstance(r, ApiRoutes))
    tried: list[str] = []
    original = Route.matches

    def counting(self: Route, scope: Any) -> Any:
        tried.append(self.path)
        return original(self, scope)

    monkeypatch.setattr(Route, "matches", counting)
    match, child = api.matches(_scope("GET", "/api/echo/x"))
    assert match is Match.FULL and child["path_params"] == {"item": "x"}
    assert tried == ["/api/echo/{item}"]


async def test_routing_answers_through_the_app(sqlite_url: str) -> None:
    transport = httpx.ASGITransport(app=_app(sqlite_url))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        r = await c.get("/api/echo/x1")
        assert r.status_code == 200 and r.json() == {"params": {"item": "x1"}}
        assert (await c.head("/api/echo/x1")).status_code == 200
        # The router's own 405 (after authentication, for a plugin path) keeps its Allow.
        await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "a@example.com", "password": "correct horse battery"},
            headers=ORIGIN,
        )
        r = await c.patch("/api/echo/x1", headers=ORIGIN)
        assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD"}
        assert r.json()["error"] == "Method not allowed"


def test_remembered_literal_matches_answer_as_the_scan(sqlite_url: str) -> None:
    """``RouteTable.match`` remembers parameterless hits; answers stay the scan's, a
    path that only looks like a pattern keeps its params, and ``add`` forgets."""
    from mastra.core.server._spec import ApiRoute, RouteTable

    table = next(r for r in _app(sqlite_url).router.routes if isinstance(r, ApiRoutes)).table
    fresh = RouteTable(table.routes)
    for method in ("GET", "HEAD", "POST"):
        for path in ("/auth/me", "/openapi.json", "/echo/a1", "/echo/{item}", "/nowhere"):
            for _ in range(2):
                assert table.match(method, path) == fresh.match(method, path), (method, path)
    assert table.match("GET", "/echo/{item}")[1] == {"item": "{item}"}
    before = table.match("GET", "/late")
    table.add(ApiRoute("GET", "/late", echo))
    assert before == (None, {}) and table.match("GET", "/late")[0] is table.routes[-1]
