"""Default roles and role → permission resolution (SPEC 4.5), plus startup checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError
from ..models import RoleDefinition
from ._grammar import REFERENCE_ACTIONS, REFERENCE_RESOURCES, unknown_parts, validate_permission

__all__ = [
    "DEFAULT_ROLES",
    "check_role_permissions",
    "default_role_mapping",
    "default_roles",
    "resolve_permissions",
    "resolve_permissions_from_mapping",
]

# Roles never use ``*:<action>`` grants (the reference's do): a wildcard action would also
# reach this project's own resources, and the audit log, users and sessions stay with
# owner and admin unless configured (SPEC 4.5).
_ADMIN = (
    *(f"{resource}:*" for resource in REFERENCE_RESOURCES),
    "studio:*",
    "settings:*",
    "audit:read",
    "users:*",
    "sessions:*",
)
_VIEWER = ("studio:read", *(f"{resource}:read" for resource in REFERENCE_RESOURCES))


def _member_permissions() -> tuple[str, ...]:
    """``studio:read``, every reference resource's ``read``, and ``execute`` where the
    reference lists it."""
    permissions = ["studio:read"]
    for resource, actions in REFERENCE_ACTIONS.items():
        permissions.append(f"{resource}:read")
        if "execute" in actions:
            permissions.append(f"{resource}:execute")
    return tuple(permissions)


_DEFAULTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("owner", "Owner", ("*",)),
    ("admin", "Admin", _ADMIN),
    ("member", "Member", _member_permissions()),
    ("viewer", "Viewer", _VIEWER),
)


def default_roles() -> list[RoleDefinition]:
    """Fresh copies of the section 4.5 roles (safe to modify)."""
    return [RoleDefinition(id=i, name=n, permissions=list(p)) for i, n, p in _DEFAULTS]


def default_role_mapping() -> dict[str, list[str]]:
    """The section 4.5 roles as a ``RoleMapping`` (no ``_default`` key)."""
    return {i: list(p) for i, _, p in _DEFAULTS}


#: The section 4.5 roles. Treat as read-only; call :func:`default_roles` for copies.
DEFAULT_ROLES: list[RoleDefinition] = default_roles()


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def resolve_permissions(
    role_ids: Iterable[str], roles: Sequence[RoleDefinition] | Mapping[str, RoleDefinition]
) -> list[str]:
    """Depth-first over ``inherits`` (own permissions first), cycle-safe, unknown ids
    ignored, de-duplicated in insertion order."""
    by_id = roles if isinstance(roles, Mapping) else {role.id: role for role in roles}
    visited: set[str] = set()
    out: dict[str, None] = {}
    for root in role_ids:
        stack = [root]
        while stack:
            role_id = stack.pop()
            if role_id in visited:
                continue
            visited.add(role_id)
            role = by_id.get(role_id)
            if role is None:
                continue
            out.update(dict.fromkeys(role.permissions))
            # Reversed so the first inherited role is explored first (pre-order DFS).
            stack.extend(reversed(role.inherits or []))
    return list(out)


def resolve_permissions_from_mapping(roles: Iterable[str], mapping: Mapping[str, Sequence[str]]) -> list[str]:
    """Each role's mapped permissions, ``_default`` for unmapped roles and for no role."""
    default = mapping.get("_default", [])
    role_list = list(roles)
    if not role_list:
        return _dedupe(default)
    out: dict[str, None] = {}
    for role in role_list:
        out.update(dict.fromkeys(mapping[role] if role in mapping else default))
    return list(out)


def check_role_permissions(
    roles: Sequence[RoleDefinition] | Mapping[str, Sequence[str]],
) -> list[str]:
    """Validate configured permissions at startup.

    Raises ``ConfigurationError`` naming the role for a malformed permission; returns
    warning texts for resources/actions outside the vocabulary and for unknown
    inherited roles (plugins may add resources, so those are not fatal).
    """
    entries: list[tuple[str, Any]]
    if isinstance(roles, Mapping):
        entries = [(str(k), v) for k, v in roles.items()]
        known = set(roles)
        inherits: dict[str, list[str]] = {}
    else:
        entries = [(r.id, r.permissions) for r in roles]
        known = {r.id for r in roles}
        inherits = {r.id: list(r.inherits or []) for r in roles}
    warnings: list[str] = []
    for role_id, permissions in entries:
        if isinstance(permissions, str) or not isinstance(permissions, Sequence):
            raise ConfigurationError(f"Role '{role_id}': permissions must be a list of strings")
        for permission in permissions:
            try:
                validate_permission(permission)
            except ValueError as exc:
                raise ConfigurationError(f"Role '{role_id}': {exc}") from exc
            for note in unknown_parts(permission):
                warnings.append(f"Role '{role_id}': permission '{permission}' has an {note}")
        for parent in inherits.get(role_id, []):
            if parent not in known:
                warnings.append(f"Role '{role_id}' inherits unknown role '{parent}'")
    return warnings
