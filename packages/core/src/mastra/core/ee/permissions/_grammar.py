"""Permission grammar and vocabulary (SPEC 4.1, 4.4).

A permission is ``<resource>:<action>`` or ``<resource>:<action>:<resourceId>``,
split on the first two colons only so that an id may itself contain colons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import InvalidPermission

__all__ = [
    "ACTIONS",
    "RESOURCES",
    "permission_patterns",
    "split_permission",
    "unknown_parts",
    "validate_permission",
]

RESOURCES: tuple[str, ...] = (
    "studio",
    "agents",
    "workflows",
    "tools",
    "memory",
    "logs",
    "observability",
    "scores",
    "mcp",
    "a2a",
    "vector",
    "processors",
    "workspaces",
    "settings",
    "users",
    "audit",
    "system",
    "auth",
)
ACTIONS: tuple[str, ...] = ("read", "write", "execute", "delete")

_PART = re.compile(r"\*|[a-z0-9][a-z0-9._-]*")
# Ids are free-form (they may contain colons) but never empty, blank-padded or
# carrying control characters: those only ever come from a typo or an injection.
_BAD_ID = re.compile(r"[\x00-\x20\x7f]")


def split_permission(permission: str) -> list[str]:
    """``[res, act]`` or ``[res, act, id]``; fewer parts for a flat string."""
    return permission.split(":", 2)


def validate_permission(permission: object) -> str:
    """Return ``permission`` if it follows the grammar, else raise :class:`InvalidPermission`
    (a ``ValueError``).

    ``*`` alone is valid. A third part (the resource id) must be non-empty and free of
    whitespace and control characters.
    """
    if not isinstance(permission, str):
        raise InvalidPermission(f"Permission must be a string, got {type(permission).__name__}")
    if permission == "*":
        return permission
    parts = split_permission(permission)
    if len(parts) < 2:
        raise InvalidPermission(
            f"Malformed permission {permission!r}: expected '<resource>:<action>[:<id>]' or '*'"
        )
    resource, action = parts[0], parts[1]
    if not _PART.fullmatch(resource):
        raise InvalidPermission(
            f"Malformed permission {permission!r}: resource {resource!r} must match "
            "[a-z0-9][a-z0-9._-]* or be '*'"
        )
    if not _PART.fullmatch(action):
        raise InvalidPermission(
            f"Malformed permission {permission!r}: action {action!r} must match "
            "[a-z0-9][a-z0-9._-]* or be '*'"
        )
    if len(parts) == 3 and (not parts[2] or _BAD_ID.search(parts[2])):
        raise InvalidPermission(
            f"Malformed permission {permission!r}: the resource id must be non-empty "
            "and contain no whitespace or control characters"
        )
    return permission


def unknown_parts(permission: str) -> list[str]:
    """Human-readable notes on a resource or action outside the vocabulary (4.4)."""
    if permission == "*":
        return []
    parts = split_permission(permission)
    if len(parts) < 2:
        return []
    notes: list[str] = []
    if parts[0] != "*" and parts[0] not in RESOURCES:
        notes.append(f"unknown resource '{parts[0]}'")
    if parts[1] != "*" and parts[1] not in ACTIONS:
        notes.append(f"unknown action '{parts[1]}'")
    return notes


def permission_patterns(extra: Iterable[str] = ()) -> list[str]:
    """The sorted vocabulary for ``GET /auth/permission-patterns`` (SPEC 4.4).

    ``extra`` carries the explicit permissions of plugin routes.
    """
    patterns = {"*", "*:*"}
    patterns.update(f"*:{action}" for action in ACTIONS)
    for resource in RESOURCES:
        patterns.add(f"{resource}:*")
        patterns.update(f"{resource}:{action}" for action in ACTIONS)
    patterns.update(p for p in extra if isinstance(p, str) and p)
    return sorted(patterns)
