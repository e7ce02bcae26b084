"""``StaticRBACProvider`` (provider name ``static``, SPEC 8.4).

Roles come from the user's metadata; permissions from configured role definitions
(with inheritance) or from a role mapping. Resolution is cached per role set, and the
cache holds the compiled :class:`PermissionSet`, so a check after the first is a
metadata read, a dict hit and a set look-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..cache import TTLCache
from ..errors import AuthError, ConfigurationError, RoleNotFound
from ..interfaces import IUserProvider, SupportsRoleAssignment, maybe_await
from ..models import AuditActor, AuditEventInput, AuditResource, EEUser, RBACCapabilities, RoleDefinition
from ..options import as_provider_options
from ..permissions import (
    PermissionSet,
    check_role_permissions,
    compile_permissions,
    default_roles,
    resolve_permissions,
    resolve_permissions_from_mapping,
)
from ._options import StaticRBACOptions, display_name, parse_role_mapping, parse_roles

__all__ = ["StaticRBACProvider"]

logger = logging.getLogger("mastra.ee.rbac")

_SYSTEM_ACTOR = AuditActor(type="system", id="system")


class StaticRBACProvider:
    """Config-defined RBAC. Also an RBAC manager when the bound user store is writable."""

    def __init__(
        self,
        *,
        roles: Sequence[RoleDefinition | Mapping[str, Any]] | None = None,
        role_mapping: Mapping[str, Sequence[str]] | None = None,
        role_field: str = "role",
        default_role: str | None = None,
        cache_size: int = 4096,
    ) -> None:
        if roles is not None and role_mapping is not None:
            raise ConfigurationError("static RBAC: set either 'roles' or 'role_mapping', not both")
        self._mapping: dict[str, list[str]] | None = None
        self._roles: dict[str, RoleDefinition] = {}
        if role_mapping is not None:
            self._mapping = parse_role_mapping(role_mapping)
            warnings = check_role_permissions(self._mapping)
        else:
            parsed = parse_roles(roles) if roles is not None else default_roles()
            self._roles = {role.id: role for role in parsed}
            warnings = check_role_permissions(parsed)
        _log_warnings(warnings)
        self.role_field = role_field or "role"
        self.default_role = default_role or None
        if self.default_role is not None and self.default_role not in self._known_role_ids():
            logger.warning("static RBAC: default_role '%s' is not a defined role", self.default_role)
        self._cache_size = max(1, int(cache_size))
        # Role definitions are fixed for the provider's life: entries never expire, the
        # least recently used role set goes first beyond ``cache_size``.
        self._cache: TTLCache[str, tuple[list[str], PermissionSet]] = TTLCache(
            ttl=None, max_size=self._cache_size
        )
        self._raw_cache: dict[str, PermissionSet] = {}
        self._lock = threading.Lock()
        self._auth: Any = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> StaticRBACProvider:
        parsed = as_provider_options(options).parse(StaticRBACOptions)
        return cls(
            roles=parsed.roles,
            role_mapping=parsed.role_mapping,
            role_field=parsed.role_field,
            default_role=parsed.default_role,
            cache_size=parsed.cache_size,
        )

    def bind(self, auth: Any) -> None:
        self._auth = auth

    # -- roles -----------------------------------------------------------------------

    @property
    def role_mapping(self) -> dict[str, list[str]] | None:
        if self._mapping is None:
            return None
        return {key: list(value) for key, value in self._mapping.items()}

    def _known_role_ids(self) -> set[str]:
        if self._mapping is not None:
            return {key for key in self._mapping if key != "_default"}
        return set(self._roles)

    def roles_of(self, user: EEUser) -> list[str]:
        """Synchronous ``get_roles``: metadata ``role_field`` then ``roles``, else the default."""
        try:
            roles = _read_roles(user.metadata, self.role_field)
        except Exception:  # SPEC 3.5: errors → no roles
            logger.warning("static RBAC: unreadable roles for user %s", getattr(user, "id", "?"))
            roles = []
        if not roles and self.default_role:
            return [self.default_role]
        return roles

    async def get_roles(self, user: EEUser) -> list[str]:
        return self.roles_of(user)

    async def has_role(self, user: EEUser, role: str) -> bool:
        return role in self.roles_of(user)

    # -- permissions -----------------------------------------------------------------

    def _resolve(self, roles: Iterable[str]) -> list[str]:
        if self._mapping is not None:
            return resolve_permissions_from_mapping(roles, self._mapping)
        return resolve_permissions(roles, self._roles)

    def permission_set(self, user: EEUser) -> PermissionSet:
        """The user's compiled permissions, cached per sorted, comma-joined role set.

        Fast path: when the roles come from one plain string (the common ``role`` column),
        that raw string alone determines the answer, so it is looked up directly before
        any parsing.
        """
        metadata = user.metadata
        raw = metadata.get(self.role_field)
        raw_key: str | None = None
        # Exact ``str`` only: a subclass could redefine equality and alias cache entries.
        if isinstance(raw, str) and type(raw) is str:
            if self.role_field == "roles" or "roles" not in metadata:
                raw_key = raw
        if raw_key is not None:
            hit = self._raw_cache.get(raw_key)
            if hit is not None:
                return hit
        roles = self.roles_of(user)
        key = ",".join(sorted(set(roles)))  # ids never contain commas (see _read_roles)
        entry = self._cache.get(key)
        if entry is None:
            permissions = self._resolve(roles)
            entry = (permissions, compile_permissions(permissions))
            with self._lock:
                self._cache.set(key, entry)
        if raw_key is not None:
            with self._lock:
                if len(self._raw_cache) >= self._cache_size:
                    self._raw_cache.clear()
                self._raw_cache[raw_key] = entry[1]
        return entry[1]

    async def get_permissions(self, user: EEUser) -> list[str]:
        return list(self.permission_set(user).permissions)

    async def has_permission(self, user: EEUser, permission: str) -> bool:
        return self.permission_set(user).allows(permission)

    async def has_all_permissions(self, user: EEUser, permissions: Sequence[str]) -> bool:
        return self.permission_set(user).allows_all(permissions)

    async def has_any_permission(self, user: EEUser, permissions: Sequence[str]) -> bool:
        return self.permission_set(user).allows_any(permissions)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._raw_cache.clear()

    # -- definitions -----------------------------------------------------------------

    def get_capabilities(self) -> RBACCapabilities:
        return RBACCapabilities(
            role_source="config",
            role_inheritance=self._mapping is None,
            role_assignment=self._writable_user_store() is not None,
        )

    async def list_role_definitions(self) -> list[RoleDefinition]:
        if self._mapping is not None:
            return [
                RoleDefinition(id=key, name=display_name(key), permissions=list(perms))
                for key, perms in self._mapping.items()
                if key != "_default"
            ]
        return [role.model_copy(deep=True) for role in self._roles.values()]

    async def get_available_roles(self) -> list[dict[str, str]]:
        return [{"id": role.id, "name": role.name} for role in await self.list_role_definitions()]

    async def get_permissions_for_role(self, role_id: str) -> list[str]:
        if role_id not in self._known_role_ids():
            raise RoleNotFound(f"Role '{role_id}' not found")
        return self._resolve([role_id])

    # -- manager ---------------------------------------------------------------------

    def _writable_user_store(self) -> Any:
        user_provider = getattr(self._auth, "user", None)
        return user_provider if isinstance(user_provider, SupportsRoleAssignment) else None

    async def _stored_roles(self, store: Any, user_id: str) -> list[str]:
        user: EEUser | None = None
        if isinstance(store, IUserProvider):
            user = await maybe_await(store.get_user(user_id))
        if user is None:
            raise AuthError(f"User '{user_id}' not found", code="user_not_found", status=404)
        return _read_roles(user.metadata, self.role_field)

    def _require_store(self) -> Any:
        store = self._writable_user_store()
        if store is None:
            raise AuthError(
                "Role assignment needs a writable user store (a user provider with set_user_role, "
                "e.g. embedded Better Auth); the configured user provider does not offer one",
                code="role_assignment_unsupported",
                status=400,
            )
        return store

    async def assign_role(self, user_id: str, role_id: str, *, actor: AuditActor | None = None) -> None:
        """Single-role assignment: the user's role becomes ``role_id``."""
        store = self._require_store()
        if role_id not in self._known_role_ids():
            raise RoleNotFound(f"Role '{role_id}' not found")
        previous = await self._stored_roles(store, user_id)
        await maybe_await(store.set_user_role(user_id, role_id))
        await self._emit_role_change(user_id, previous, [role_id], actor)

    async def remove_role(self, user_id: str, role_id: str, *, actor: AuditActor | None = None) -> None:
        """Remove one role; removing the user's only role is refused."""
        store = self._require_store()
        previous = await self._stored_roles(store, user_id)
        if role_id not in previous:
            raise AuthError(
                f"User '{user_id}' does not have role '{role_id}'", code="role_not_assigned", status=404
            )
        remaining = [role for role in previous if role != role_id]
        if not remaining:
            raise AuthError(
                f"Cannot remove the only role of user '{user_id}'; assign another role instead",
                code="last_role",
                status=409,
            )
        await maybe_await(store.set_user_role(user_id, ",".join(remaining)))
        await self._emit_role_change(user_id, previous, remaining, actor)

    async def _emit_role_change(
        self, user_id: str, previous: list[str], current: list[str], actor: AuditActor | None
    ) -> None:
        if self._auth is None:
            return
        from ..audit import emit  # lazy: the audit package imports the RBAC-free core only

        event = AuditEventInput(
            actor=actor or _SYSTEM_ACTOR,
            action="users.role-change",
            outcome="success",
            resource=AuditResource(type="user", id=user_id),
            metadata={"previousRoles": previous, "roles": current},
        )
        await emit(self._auth, event)


def _log_warnings(warnings: list[str], limit: int = 10) -> None:
    """One startup line per problem, capped: a large custom vocabulary must not flood logs."""
    for warning in warnings[:limit]:
        logger.warning("static RBAC: %s", warning)
    if len(warnings) > limit:
        logger.warning("static RBAC: %d more permission warnings not shown", len(warnings) - limit)


def _read_roles(metadata: Mapping[str, Any], role_field: str) -> list[str]:
    """Roles from ``metadata[role_field]`` (comma list or list), then ``metadata["roles"]``.

    Every entry is split on commas and trimmed, so no role id contains a comma and the
    cache key ``",".join(sorted(roles))`` is unambiguous.
    """
    found: list[str] = []
    for field in (role_field, "roles"):
        value = metadata.get(field)
        items = [value] if isinstance(value, str) else value if isinstance(value, list | tuple) else []
        for item in items:
            if isinstance(item, str):
                found.extend(part.strip() for part in item.split(","))
    return list(dict.fromkeys(role for role in found if role))
