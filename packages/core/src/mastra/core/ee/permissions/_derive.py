"""Which permission a route needs (SPEC 4.3)."""

from __future__ import annotations

__all__ = ["EXECUTE_MARKERS", "derive_permission", "effective_permission"]

#: A POST whose path contains one of these is an execution, not a write.
EXECUTE_MARKERS: tuple[str, ...] = (
    "/generate",
    "/stream",
    "/execute",
    "/start",
    "/resume",
    "/restart",
    "/cancel",
    "/approve",
    "/decline",
    "/speak",
    "/listen",
    "/query",
    "/search",
    "/observe",
    "/time-travel",
    "/enhance",
    "/clone",
)

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITE_METHODS = frozenset({"PUT", "PATCH"})


def derive_permission(method: str, path: str) -> str | None:
    """``<resource>:<action>`` from the method and the prefix-relative path.

    The resource is the first path segment (``.well-known`` → ``a2a``), passed through
    unchanged otherwise; an empty path needs no permission (``None``).
    """
    segment = path.lstrip("/").split("/", 1)[0]
    if not segment:
        return None
    resource = "a2a" if segment == ".well-known" else segment
    verb = method.upper()
    if verb in _READ_METHODS:
        action = "read"
    elif verb in _WRITE_METHODS:
        action = "write"
    elif verb == "DELETE":
        action = "delete"
    elif verb == "POST":
        action = "execute" if any(marker in path for marker in EXECUTE_MARKERS) else "write"
    else:
        action = "read"
    return f"{resource}:{action}"


def effective_permission(
    route_permission: str | list[str] | tuple[str, ...] | bool | None,
    method: str,
    path: str,
    *,
    requires_auth: bool = True,
) -> str | list[str] | None:
    """What the middleware checks: ``None`` = no permission check.

    Public routes and ``permission=False`` need none; an explicit string or list (any-of)
    wins; otherwise the permission is derived from the method and path.
    """
    if not requires_auth or route_permission is False:
        return None
    if isinstance(route_permission, str):
        return route_permission
    if isinstance(route_permission, list | tuple) and route_permission:
        return list(route_permission)
    # An empty list would deny everyone; treat it like "not set" and derive instead.
    return derive_permission(method, path)
