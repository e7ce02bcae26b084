"""Permission checks against a capabilities response, with the server's matcher (SPEC 4.2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..ee.permissions import PermissionSet, compile_permissions

__all__ = ["PermissionChecker", "permission_checker"]


@dataclass(frozen=True)
class PermissionChecker:
    """``rbac=False`` (auth off, RBAC off or unlicensed) → every check passes (SPEC 11.1)."""

    rbac: bool
    permissions: tuple[str, ...] = ()
    _compiled: PermissionSet | None = field(default=None, compare=False, repr=False)

    def has_permission(self, required: str) -> bool:
        if not self.rbac:
            return True
        assert self._compiled is not None
        return bool(self._compiled.allows(required))

    def has_any_permission(self, required: Iterable[str]) -> bool:
        return not self.rbac or any(self.has_permission(p) for p in required)

    def has_all_permissions(self, required: Iterable[str]) -> bool:
        return not self.rbac or all(self.has_permission(p) for p in required)


def permission_checker(capabilities: Mapping[str, Any] | None) -> PermissionChecker:
    caps = capabilities or {}
    flags = caps.get("capabilities") or {}
    rbac = bool(caps.get("enabled") and flags.get("rbac"))
    if not rbac:
        return PermissionChecker(rbac=False)
    access = caps.get("access") or {}
    granted = tuple(str(p) for p in access.get("permissions") or ())
    return PermissionChecker(rbac=True, permissions=granted, _compiled=compile_permissions(list(granted)))
