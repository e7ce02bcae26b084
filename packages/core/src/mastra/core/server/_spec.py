"""The API route table shared by the router, the auth middleware and the OpenAPI builder.

Every route mounted under the API prefix (core and plugin) is described once as an
:class:`ApiRoute`; the middleware matches requests against the same table Starlette
routes them with, so "route match" (SPEC 9.2, first step) sees exactly what the
handler will see.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from starlette.routing import compile_path

__all__ = ["MAX_BODY_BYTES", "UNSAFE_METHODS", "ApiRoute", "RouteCollision", "RouteTable"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Default cap of a request body (S25); a route may set its own ``max_body``.
MAX_BODY_BYTES = 1 << 20

Endpoint = Callable[..., Awaitable[Any]]
CsrfMode = bool | Literal["always"] | None


class RouteCollision(Exception):
    """A plugin route reuses the method and path of a core route (startup error)."""


@dataclass(eq=False)
class ApiRoute:
    """One prefix-relative API route.

    ``permission``: a string or list (any-of) = explicit; ``False`` = authentication
    only; ``None`` = derived from method and path (SPEC 4.3).
    ``key_scope``: see the field.
    ``csrf``: ``None`` = check unsafe methods when a cookie is present; ``"always"`` =
    check even without cookies (credentials, logout, refresh); ``False`` = opt out.
    """

    method: str
    path: str
    endpoint: Endpoint
    requires_auth: bool = True
    permission: str | list[str] | bool | None = None
    csrf: CsrfMode = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    summary: str = ""
    tag: str = "plugin"
    responses: dict[int, str] = field(default_factory=dict)
    source: str = "core"
    max_body: int = MAX_BODY_BYTES
    #: On a ``permission=False`` route over the caller's own credentials (its keys, its
    #: sessions): the scope an API-key caller needs. The owner side is its own (always
    #: held), so only the key's scopes are asked.
    key_scope: str | None = None
    regex: re.Pattern[str] = field(init=False, repr=False)
    param_names: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self.regex, _, convertors = compile_path(self.path)
        self.param_names = tuple(convertors)

    @property
    def csrf_checked(self) -> bool:
        if self.csrf is False:
            return False
        return self.method in UNSAFE_METHODS or self.csrf == "always"

    @property
    def csrf_without_cookie(self) -> bool:
        return self.csrf == "always"

    @property
    def key(self) -> tuple[str, str]:
        # ``{id}`` and ``{eventId}`` name the same slot: compare shapes, not names.
        return self.method, re.sub(r"\{[^}]+\}", "{}", self.path)


class RouteTable:
    """Ordered routes; literal paths registered before parameterised ones win."""

    def __init__(self, routes: Iterable[ApiRoute] = ()) -> None:
        self.routes: list[ApiRoute] = []
        self._keys: dict[tuple[str, str], ApiRoute] = {}
        self._literal_hits: dict[tuple[str, str], ApiRoute] = {}  # match() of parameterless paths
        for route in routes:
            self.add(route)

    def add(self, route: ApiRoute) -> None:
        existing = self._keys.get(route.key)
        if existing is not None:
            raise RouteCollision(
                f"Plugin route {route.method} {route.path} ({route.source}) collides with "
                f"{existing.source} route {existing.method} {existing.path}"
            )
        self._keys[route.key] = route
        self.routes.append(route)
        self._literal_hits.clear()

    def match(self, method: str, path: str) -> tuple[ApiRoute | None, dict[str, str]]:
        """The route for ``method`` + prefix-relative ``path``; HEAD falls back to GET."""
        method = method.upper()
        known = self._literal_hits.get((method, path))
        if known is not None:  # every request asks this: the scan's answer, remembered
            return known, {}
        fallback: tuple[ApiRoute, dict[str, str]] | None = None
        for route in self.routes:
            found = route.regex.match(path)
            if found is None:
                continue
            if route.method == method:
                return self._hit(method, path, route, found.groupdict())
            if method == "HEAD" and route.method == "GET" and fallback is None:
                fallback = (route, found.groupdict())
        if fallback is not None:
            return self._hit(method, path, *fallback)
        return None, {}

    def _hit(
        self, method: str, path: str, route: ApiRoute, params: dict[str, str]
    ) -> tuple[ApiRoute, dict[str, str]]:
        if route.path == path and not params:  # a literal route: one entry per route and method
            self._literal_hits[(method, path)] = route
        return route, params

    def allowed_methods(self, path: str) -> list[str]:
        """Methods of the routes whose path matches (for a ``405``'s ``Allow``)."""
        methods = {route.method for route in self.routes if route.regex.match(path)}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)

    def explicit_permissions(self) -> list[str]:
        found: list[str] = []
        for route in self.routes:
            perm = route.permission
            values = [perm] if isinstance(perm, str) else perm if isinstance(perm, list) else []
            found.extend(p for p in values if p not in found)
        return found
