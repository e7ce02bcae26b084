"""The EE API routes as one entry of the host's router.

Starlette finds a route by trying each one's regex in turn, so a request under the
prefix paid for every API route listed before its own (about a tenth of an
authenticated request's time, measured for issue #14). The auth middleware has already
matched the request against the same :class:`~._spec.RouteTable`; :class:`ApiRoutes`
takes that match (or makes it, when the middleware did not run) and lets only that
route's own Starlette :class:`~starlette.routing.Route` confirm it. Everything else —
405 with ``Allow``, 404, trailing-slash redirects, ``HEAD`` — goes through the same
per-route scan as before, so what Starlette answers does not change.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

from ._paths import relative_to_prefix
from ._spec import ApiRoute, RouteTable

__all__ = ["ApiRoutes", "remember_route"]

_HINT = "mastra.route"
_MATCHED = "mastra.matched_route"


def remember_route(scope: MutableMapping[str, Any], route: ApiRoute) -> None:
    """The middleware's match for this request's path and method (a hint: re-checked)."""
    scope[_HINT] = (scope["path"], scope["method"], route)


class ApiRoutes(BaseRoute):
    """Every route of ``table`` mounted at ``prefix`` + its path."""

    def __init__(self, prefix: str, table: RouteTable) -> None:
        self.prefix = prefix
        self.table = table
        self._routes: dict[ApiRoute, Route] = {}

    def _route(self, api: ApiRoute) -> Route:
        route = self._routes.get(api)
        if route is None:
            route = self._routes[api] = Route(self.prefix + api.path, api.endpoint, methods=[api.method])
        return route

    @property
    def routes(self) -> list[Route]:
        return [self._route(api) for api in self.table.routes]

    def _candidate(self, scope: Scope) -> ApiRoute | None:
        hint = scope.get(_HINT)
        if hint is not None and hint[0] == scope["path"] and hint[1] == scope["method"]:
            return hint[2]  # type: ignore[no-any-return]
        rel = relative_to_prefix(scope["path"], self.prefix)
        return None if rel is None else self.table.match(scope["method"], rel)[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        if scope["method"] != "HEAD":  # HEAD: the scan below decides, as Starlette does
            api = self._candidate(scope)
            if api is not None:
                route = self._route(api)
                if scope["path"] == route.path and "{" not in api.path and not scope.get("root_path"):
                    # This very literal path, for this very method: what Route.matches
                    # would answer, without its regex and parameter work.
                    params = dict(scope.get("path_params", {}))
                    return Match.FULL, {"endpoint": route.endpoint, "path_params": params, _MATCHED: route}
                match, child = route.matches(scope)
                if match is Match.FULL:
                    return match, {**child, _MATCHED: route}
        partial: tuple[Match, Scope] | None = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, {**child, _MATCHED: route}
            if match is Match.PARTIAL and partial is None:
                partial = (match, {**child, _MATCHED: route})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: Route = scope[_MATCHED]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)
