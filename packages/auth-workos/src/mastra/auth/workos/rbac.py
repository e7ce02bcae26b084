"""RBAC from WorkOS organization memberships (SPEC 10.1 "RBAC").

Roles: the user's memberships (only ``organization_id`` when set), ``roles[].slug``
when present (multi-role), else ``role.slug``, de-duplicated. Memberships are cached
per WorkOS user id (TTL 60 s, at most 1000 users, concurrent misses share one request);
directory-sync webhooks and role assignment invalidate the cache.

Permissions: the role mapping, ``_default`` for unmapped roles and for users without
roles. With ``honor_token_permissions`` the ``permissions`` claim WorkOS puts in the
user's access token is added to the mapped permissions (WorkOS-side RBAC).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mastra.core.ee.audit import emit
from mastra.core.ee.cache import SingleFlightCache
from mastra.core.ee.errors import AuthError
from mastra.core.ee.models import (
    AuditActor,
    AuditEventInput,
    AuditResource,
    EEUser,
    RBACCapabilities,
    RoleDefinition,
)
from mastra.core.ee.permissions import has_permission

from workos._errors import WorkOSError
from workos.organization_membership._resource import RoleMultiple, RoleSingle

if TYPE_CHECKING:
    from workos import AsyncWorkOSClient

    from ._options import WorkOSOptions

__all__ = ["WorkOSRBACMixin"]

logger = logging.getLogger("mastra.auth.workos")

Membership = dict[str, Any]  # {"id", "organization_id", "roles": [slug, ...]}


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _membership_roles(membership: Any) -> list[str]:
    slugs = [r.slug for r in (membership.roles or []) if getattr(r, "slug", None)]
    if not slugs and getattr(membership, "role", None) is not None:
        slugs = [membership.role.slug]
    return _dedupe(slugs)


class WorkOSRBACMixin:
    client: AsyncWorkOSClient
    options: WorkOSOptions
    memberships_cache: SingleFlightCache[list[Membership]]
    _auth: Any

    # -- memberships ----------------------------------------------------------------------

    async def _load_memberships(self, workos_user_id: str) -> list[Membership]:
        page = await self.client.organization_membership.list_organization_memberships(
            user_id=workos_user_id, organization_id=self.options.organization_id, limit=100
        )
        return [
            {"id": m.id, "organization_id": m.organization_id, "roles": _membership_roles(m)}
            async for m in page.auto_paging_iter()
        ]

    async def get_memberships(self, workos_user_id: str) -> list[Membership] | None:
        """Cached memberships, or ``None`` when WorkOS could not be asked."""
        try:
            return await self.memberships_cache.get(
                workos_user_id, lambda: self._load_memberships(workos_user_id)
            )
        except (WorkOSError, ValueError) as exc:
            logger.warning("WorkOS membership lookup failed: %s", type(exc).__name__)
            return None

    def invalidate_roles(self, workos_user_id: str | None = None) -> None:
        """Forget cached memberships of one user (or all users)."""
        self.memberships_cache.invalidate(workos_user_id)

    @staticmethod
    def _workos_id(user: EEUser) -> str:
        return str(user.metadata.get("workosId") or user.id)

    # -- IRBACProvider ------------------------------------------------------------------

    @property
    def role_mapping(self) -> dict[str, list[str]] | None:
        return self.options.role_mapping

    async def get_roles(self, user: EEUser) -> list[str]:
        memberships = await self.get_memberships(self._workos_id(user))
        if not memberships:
            return []
        return _dedupe([role for m in memberships for role in m["roles"]])

    async def has_role(self, user: EEUser, role: str) -> bool:
        return role in await self.get_roles(user)

    def _permissions_for_roles(self, roles: Sequence[str]) -> list[str]:
        mapping = self.options.role_mapping or {}
        default = mapping.get("_default", [])
        if not roles:
            return list(default)
        perms: list[str] = []
        for role in roles:
            perms.extend(mapping[role] if role in mapping and role != "_default" else default)
        return _dedupe(perms)

    async def get_permissions(self, user: EEUser) -> list[str]:
        perms = self._permissions_for_roles(await self.get_roles(user))
        token_perms = user.metadata.get("tokenPermissions")
        if self.options.honor_token_permissions and isinstance(token_perms, list):
            perms = _dedupe([*perms, *(str(p) for p in token_perms)])
        return perms

    async def has_permission(self, user: EEUser, permission: str) -> bool:
        return has_permission(await self.get_permissions(user), permission)

    async def has_all_permissions(self, user: EEUser, permissions: Sequence[str]) -> bool:
        perms = await self.get_permissions(user)
        return all(has_permission(perms, p) for p in permissions)

    async def has_any_permission(self, user: EEUser, permissions: Sequence[str]) -> bool:
        perms = await self.get_permissions(user)
        return any(has_permission(perms, p) for p in permissions)

    def get_capabilities(self) -> RBACCapabilities:
        return RBACCapabilities(
            multi_role=True, provider_managed_roles=True, role_assignment=True, role_source="provider"
        )

    async def list_role_definitions(self) -> list[RoleDefinition]:
        mapping = self.options.role_mapping or {}
        return [
            RoleDefinition(id=role, name=role[:1].upper() + role[1:], permissions=list(perms))
            for role, perms in mapping.items()
            if role != "_default"
        ]

    async def get_available_roles(self) -> list[dict[str, str]]:
        return [{"id": d.id, "name": d.name} for d in await self.list_role_definitions()]

    async def get_permissions_for_role(self, role_id: str) -> list[str]:
        mapping = self.options.role_mapping or {}
        return list(mapping[role_id] if role_id in mapping else mapping.get("_default", []))

    # -- IRBACManager -------------------------------------------------------------------

    async def _membership_for(self, user_id: str) -> tuple[str, Membership]:
        org = self.options.organization_id
        if not org:
            raise AuthError("organizationId is required for role assignment", code="no_organization")
        self.invalidate_roles(user_id)
        memberships = await self.get_memberships(user_id)
        if memberships is None:
            raise AuthError("WorkOS is unavailable", code="provider_unavailable", status=503)
        for membership in memberships:
            if membership["organization_id"] == org:
                return org, membership
        raise AuthError(
            f"User {user_id} is not a member of organization {org}", code="not_a_member", status=404
        )

    async def _set_roles(self, user_id: str, membership: Membership, roles: list[str]) -> None:
        role = RoleSingle(role_slug=roles[0]) if len(roles) == 1 else RoleMultiple(role_slugs=roles)
        try:
            await self.client.organization_membership.update_organization_membership(
                membership["id"], role=role
            )
        finally:
            self.invalidate_roles(user_id)
        await emit(
            getattr(self, "_auth", None),
            AuditEventInput(
                actor=AuditActor(type="system", id="workos"),
                action="users.role-change",
                outcome="success",
                resource=AuditResource(type="user", id=user_id),
                metadata={"from": membership["roles"], "to": roles},
            ),
        )

    async def assign_role(self, user_id: str, role_id: str) -> None:
        """Replace the membership's role slug (the WorkOS primary role)."""
        _, membership = await self._membership_for(user_id)
        await self._set_roles(user_id, membership, [role_id])

    async def remove_role(self, user_id: str, role_id: str) -> None:
        _, membership = await self._membership_for(user_id)
        remaining = [r for r in membership["roles"] if r != role_id]
        if remaining == membership["roles"]:
            return
        if not remaining:
            raise AuthError(f"Cannot remove the only role of user {user_id}", code="last_role")
        await self._set_roles(user_id, membership, remaining)
