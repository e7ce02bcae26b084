"""Permission grammar and vocabulary (SPEC 4.1, 4.4).

A permission is ``<resource>:<action>`` or ``<resource>:<action>:<resourceId>``,
split on the first two colons only so that an id may itself contain colons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ..errors import InvalidPermission

__all__ = [
    "ACTIONS",
    "LEGACY_STORED_PATTERNS",
    "OWN_RESOURCES",
    "PROJECT_RESOURCES",
    "REFERENCE_ACTIONS",
    "REFERENCE_RESOURCES",
    "RESOURCES",
    "is_own_permission",
    "permission_patterns",
    "split_permission",
    "unknown_parts",
    "validate_permission",
]

#: Per resource, the actions the published reference lists (npm ``@mastra/core/auth/ee``
#: 1.68.0, ``PERMISSIONS`` plus the ``share`` patterns of ``PERMISSION_PATTERNS``). The
#: reference Studio refuses to start when a permission it uses is not a known pattern, so
#: every one of these is listed by :func:`permission_patterns`; member roles take
#: ``execute`` only where the reference lists it.
REFERENCE_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "a2a": ("read", "write"),
        "agent-builder": ("read", "write", "execute"),
        "agent-controller": ("read", "execute"),
        "agents": ("read", "write", "execute", "delete", "create"),
        "auth": ("read",),
        "background-tasks": ("read",),
        "channels": ("read", "write"),
        "datasets": ("read", "write", "execute", "delete"),
        "embedders": ("read",),
        "experiments": ("read", "delete"),
        "infrastructure": ("read",),
        "logs": ("read",),
        "mcp": ("read", "write", "execute"),
        "memory": ("read", "write", "execute", "delete"),
        "observability": ("read", "write", "delete"),
        "processor-providers": ("read",),
        "processors": ("read", "execute"),
        "schedules": ("read", "write", "execute", "delete"),
        "scores": ("read", "write"),
        "stored-agents": ("read", "write", "delete", "publish", "share"),
        "stored-mcp-clients": ("read", "write", "delete", "publish"),
        "stored-prompt-blocks": ("read", "write", "delete", "publish"),
        "stored-scorers": ("read", "write", "delete", "publish"),
        "stored-skills": ("read", "write", "delete", "publish", "share"),
        "stored-workflows": ("read", "write"),
        "stored-workspaces": ("read", "write", "delete"),
        "system": ("read",),
        "tool-providers": ("read", "write", "delete"),
        "tools": ("read", "execute"),
        "vector": ("read", "write", "execute", "delete"),
        "vectors": ("read",),
        "workflows": ("read", "write", "execute", "delete"),
        "workspaces": ("read", "write", "delete"),
    }
)
#: The reference's resources, in its (alphabetical) order.
REFERENCE_RESOURCES: tuple[str, ...] = tuple(REFERENCE_ACTIONS)
#: This project's own resources: the studio, its settings, user and session
#: administration, the audit log, and API keys (docs/api-keys.md: what a key needs in
#: its scopes to manage keys — ``sessions`` likewise for the caller's own sessions).
PROJECT_RESOURCES: tuple[str, ...] = ("studio", "settings", "users", "audit", "sessions", "api-keys")
#: Resources over the caller's own credentials (its API keys, its sessions): any signed-in
#: caller holds them on its own side; an API key needs them in its scopes.
OWN_RESOURCES: tuple[str, ...] = ("api-keys", "sessions")
RESOURCES: tuple[str, ...] = REFERENCE_RESOURCES + PROJECT_RESOURCES
ACTIONS: tuple[str, ...] = ("read", "write", "execute", "delete", "create", "publish", "share")
#: The reference's legacy ``stored`` family patterns. They are listed so that a role or a
#: client using them validates, but matching stays literal (SPEC 4.2): the reference
#: expands ``stored:<action>`` to every ``stored-<family>:<action>``, this project does not
#: (docs/decisions.md).
LEGACY_STORED_PATTERNS: tuple[str, ...] = ("stored:*", "stored:read", "stored:write", "stored:delete")

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
    if parts[0] == "stored":
        # Listed for the reference Studio, but a role granting it would silently get nothing.
        notes.append(
            "unknown resource 'stored' (the reference's alias for the stored-* resources; "
            "it is matched literally here and grants nothing on them)"
        )
    elif parts[0] != "*" and parts[0] not in RESOURCES:
        notes.append(f"unknown resource '{parts[0]}'")
    if parts[1] != "*" and parts[1] not in ACTIONS:
        notes.append(f"unknown action '{parts[1]}'")
    return notes


def permission_patterns(extra: Iterable[str] = ()) -> list[str]:
    """The sorted vocabulary for ``GET /auth/permission-patterns`` (SPEC 4.4).

    ``*``, ``*:*``, every ``*:<action>`` and ``<resource>:*``, the reference's
    ``<resource>:<action>`` pairs and legacy ``stored`` patterns, every action on this
    project's own resources; ``extra`` carries the explicit permissions of plugin routes.
    """
    patterns = {"*", "*:*", *LEGACY_STORED_PATTERNS}
    patterns.update(f"*:{action}" for action in ACTIONS)
    patterns.update(f"{resource}:*" for resource in RESOURCES)
    for resource, actions in REFERENCE_ACTIONS.items():
        patterns.update(f"{resource}:{action}" for action in actions)
    for resource in PROJECT_RESOURCES:
        patterns.update(f"{resource}:{action}" for action in ACTIONS)
    patterns.update(p for p in extra if isinstance(p, str) and p)
    return sorted(patterns)


def is_own_permission(permission: str) -> bool:
    """``permission`` is over the caller's own credentials (``api-keys:…``, ``sessions:…``):
    a scope any owner may write on its keys, whatever its roles."""
    parts = split_permission(permission)
    return len(parts) >= 2 and parts[0] in OWN_RESOURCES
