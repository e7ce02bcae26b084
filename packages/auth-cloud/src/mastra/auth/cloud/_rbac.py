"""``MastraRBACCloud``: Mastra Cloud gives each user one role (``metadata.role``);
permissions come from a local role mapping. No network calls (SPEC 10.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mastra.core.ee.errors import RoleNotFound
from mastra.core.ee.models import EEUser, RBACCapabilities, RoleDefinition, RoleMapping
from mastra.core.ee.options import as_provider_options

from ._options import CloudOptions, check_role_mapping

__all__ = ["MastraRBACCloud", "default_role_mapping"]

DEFAULT_KEY = "_default"


def default_role_mapping() -> RoleMapping:
    """The SPEC 4.5 default roles as a mapping (no ``_default``: unknown roles get nothing)."""
    from mastra.core.ee.permissions import DEFAULT_ROLES

    return {role.id: list(role.permissions) for role in DEFAULT_ROLES}


class MastraRBACCloud:
    """Single-role RBAC: ``[metadata.role]`` (or ``[]``) mapped through ``role_mapping``;
    roles missing from the mapping, and users without a role, get ``_default``."""

    def __init__(self, role_mapping: Mapping[str, Sequence[str]] | None = None) -> None:
        self._role_mapping: RoleMapping = (
            check_role_mapping(role_mapping) if role_mapping is not None else default_role_mapping()
        )

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MastraRBACCloud:
        return cls(role_mapping=as_provider_options(options).parse(CloudOptions).role_mapping)

    @property
    def role_mapping(self) -> RoleMapping:
        return self._role_mapping

    async def get_roles(self, user: EEUser) -> list[str]:
        role = (user.metadata or {}).get("role")
        return [role] if isinstance(role, str) and role else []

    async def has_role(self, user: EEUser, role: str) -> bool:
        return role in await self.get_roles(user)

    async def get_permissions(self, user: EEUser) -> list[str]:
        from mastra.core.ee.permissions import resolve_permissions_from_mapping

        roles = await self.get_roles(user)
        if not roles:
            return list(dict.fromkeys(self._role_mapping.get(DEFAULT_KEY, [])))
        return list(resolve_permissions_from_mapping(roles, self._role_mapping))

    async def has_permission(self, user: EEUser, permission: str) -> bool:
        from mastra.core.ee.permissions import has_permission

        return has_permission(await self.get_permissions(user), permission)

    async def has_all_permissions(self, user: EEUser, permissions: Sequence[str]) -> bool:
        from mastra.core.ee.permissions import has_permission

        granted = await self.get_permissions(user)
        return all(has_permission(granted, p) for p in permissions)

    async def has_any_permission(self, user: EEUser, permissions: Sequence[str]) -> bool:
        from mastra.core.ee.permissions import has_permission

        granted = await self.get_permissions(user)
        return any(has_permission(granted, p) for p in permissions)

    def get_capabilities(self) -> RBACCapabilities:
        # The role is assigned in Mastra Cloud, not here.
        return RBACCapabilities(provider_managed_roles=True, role_source="provider")

    async def list_role_definitions(self) -> list[RoleDefinition]:
        return [
            RoleDefinition(id=role, name=role.capitalize(), permissions=list(perms))
            for role, perms in self._role_mapping.items()
            if role != DEFAULT_KEY
        ]

    async def get_available_roles(self) -> list[dict[str, str]]:
        return [{"id": r, "name": r.capitalize()} for r in self._role_mapping if r != DEFAULT_KEY]

    async def get_permissions_for_role(self, role_id: str) -> list[str]:
        if role_id == DEFAULT_KEY or role_id not in self._role_mapping:
            raise RoleNotFound()
        return list(dict.fromkeys(self._role_mapping[role_id]))
