"""RBAC provider conformance suite (SPEC 3.5, 4).

Subclass :class:`RBACProviderConformance` in a provider's tests and supply two fixtures:

* ``provider`` — the RBAC provider under test (bound, ready to use);
* ``user_with_roles`` — a factory ``(roles: list[str]) -> EEUser`` (sync or async)
  returning a user who holds exactly those provider roles. Role ids come from
  ``list_role_definitions()``.

Class attributes adjust for documented differences between providers:
``unknown_role_raises`` (SPEC 3.5 says ``RoleNotFound``; WorkOS answers ``_default``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ..ee.errors import RoleNotFound
from ..ee.interfaces import IRBACProvider, SupportsRoleCatalog, maybe_await
from ..ee.models import EEUser, RBACCapabilities, RoleDefinition
from ..ee.permissions import has_permission, permission_patterns

__all__ = ["RBACProviderConformance"]

UserFactory = Callable[[list[str]], "EEUser | Awaitable[EEUser]"]

#: Required permissions probed in consistency checks: the vocabulary plus scoped forms.
PROBES = [*permission_patterns(), "agents:read:a1", "tools:execute:t:1", "audit:delete", "legacy-admin"]


class RBACProviderConformance:
    unknown_role_raises: bool = True

    # -- helpers ---------------------------------------------------------------------

    async def _user(self, factory: UserFactory, roles: list[str]) -> EEUser:
        return await maybe_await(factory(roles))

    @staticmethod
    def _role_catalog(provider: Any) -> SupportsRoleCatalog:
        if not isinstance(provider, SupportsRoleCatalog):
            pytest.skip("provider is not a SupportsRoleCatalog")
        return provider

    async def _role_ids(self, provider: Any) -> list[str]:
        definitions = await maybe_await(provider.list_role_definitions())
        ids = [d.id for d in definitions]
        assert ids, "the provider under test must define at least one role"
        return ids

    # -- tests -----------------------------------------------------------------------

    async def test_is_an_rbac_provider(self, provider: Any) -> None:
        assert isinstance(provider, IRBACProvider)

    async def test_role_definitions_shape(self, provider: Any) -> None:
        definitions = await maybe_await(provider.list_role_definitions())
        assert isinstance(definitions, list)
        for d in definitions:
            assert isinstance(d, RoleDefinition)
            assert d.id and d.name and d.id != "_default"
            assert all(isinstance(p, str) for p in d.permissions)
        assert len({d.id for d in definitions}) == len(definitions)

    async def test_get_roles_returns_the_users_roles(
        self, provider: Any, user_with_roles: UserFactory
    ) -> None:
        for role_id in await self._role_ids(provider):
            user = await self._user(user_with_roles, [role_id])
            roles = await maybe_await(provider.get_roles(user))
            assert roles == [role_id]
            assert await maybe_await(provider.has_role(user, role_id)) is True
            assert await maybe_await(provider.has_role(user, role_id + "-not-a-role")) is False

    async def test_permissions_are_deduplicated_strings(
        self, provider: Any, user_with_roles: UserFactory
    ) -> None:
        for role_id in await self._role_ids(provider):
            perms = await maybe_await(provider.get_permissions(await self._user(user_with_roles, [role_id])))
            assert isinstance(perms, list)
            assert all(isinstance(p, str) for p in perms)
            assert len(perms) == len(set(perms))

    async def test_checks_agree_with_the_matcher(self, provider: Any, user_with_roles: UserFactory) -> None:
        for role_id in await self._role_ids(provider):
            user = await self._user(user_with_roles, [role_id])
            perms = await maybe_await(provider.get_permissions(user))
            for probe in PROBES:
                expected = has_permission(perms, probe)
                assert await maybe_await(provider.has_permission(user, probe)) is expected, (role_id, probe)
            assert await maybe_await(provider.has_all_permissions(user, PROBES[:5])) is all(
                has_permission(perms, p) for p in PROBES[:5]
            )
            assert await maybe_await(provider.has_any_permission(user, PROBES[-6:])) is any(
                has_permission(perms, p) for p in PROBES[-6:]
            )

    async def test_empty_lists(self, provider: Any, user_with_roles: UserFactory) -> None:
        role_id = (await self._role_ids(provider))[0]
        user = await self._user(user_with_roles, [role_id])
        assert await maybe_await(provider.has_all_permissions(user, [])) is True
        assert await maybe_await(provider.has_any_permission(user, [])) is False

    async def test_role_permissions_match_user_permissions(
        self, provider: Any, user_with_roles: UserFactory
    ) -> None:
        catalog = self._role_catalog(provider)
        for role_id in await self._role_ids(provider):
            user = await self._user(user_with_roles, [role_id])
            via_user = await maybe_await(provider.get_permissions(user))
            via_role = await catalog.get_permissions_for_role(role_id)
            assert set(via_user) == set(via_role), role_id

    async def test_unknown_role_lookup(self, provider: Any) -> None:
        catalog = self._role_catalog(provider)
        if self.unknown_role_raises:
            with pytest.raises(RoleNotFound):
                await catalog.get_permissions_for_role("no-such-role-xyz")
        else:
            assert isinstance(await catalog.get_permissions_for_role("no-such-role-xyz"), list)

    async def test_no_roles_gets_default(self, provider: Any, user_with_roles: UserFactory) -> None:
        user = await self._user(user_with_roles, [])
        roles = await maybe_await(provider.get_roles(user))
        perms = await maybe_await(provider.get_permissions(user))
        mapping = provider.role_mapping
        if not roles and mapping is not None:
            assert perms == list(dict.fromkeys(mapping.get("_default", [])))
        assert isinstance(perms, list)

    async def test_users_do_not_share_answers(self, provider: Any, user_with_roles: UserFactory) -> None:
        ids = await self._role_ids(provider)
        users = [await self._user(user_with_roles, [r]) for r in ids]
        first = [await maybe_await(provider.get_permissions(u)) for u in users]
        # Interleaved, repeated calls give each user their own answer (no cache bleed).
        for _ in range(2):
            for user, expected in zip(reversed(users), reversed(first), strict=True):
                assert await maybe_await(provider.get_permissions(user)) == expected

    async def test_returned_list_is_a_copy(self, provider: Any, user_with_roles: UserFactory) -> None:
        role_id = (await self._role_ids(provider))[0]
        user = await self._user(user_with_roles, [role_id])
        perms = await maybe_await(provider.get_permissions(user))
        before = list(perms)
        perms.append("injected:write")
        assert await maybe_await(provider.get_permissions(user)) == before

    async def test_user_metadata_not_mutated(self, provider: Any, user_with_roles: UserFactory) -> None:
        ids = await self._role_ids(provider)
        user = await self._user(user_with_roles, list(reversed(ids[:2])))
        snapshot = user.model_dump()
        await maybe_await(provider.get_permissions(user))
        await maybe_await(provider.get_roles(user))
        assert user.model_dump() == snapshot

    async def test_unknown_user_has_no_roles_and_no_error(self, provider: Any) -> None:
        stranger = EEUser(id="conformance-unknown-user", metadata={"role": 42, "roles": {"x": 1}})
        roles = await maybe_await(provider.get_roles(stranger))
        assert isinstance(roles, list)
        assert isinstance(await maybe_await(provider.get_permissions(stranger)), list)

    async def test_capabilities(self, provider: Any) -> None:
        caps = await maybe_await(provider.get_capabilities())
        assert isinstance(caps, RBACCapabilities)
        assert caps.role_source in {"provider", "config", "storage", "hybrid"}

    async def test_available_roles_are_defined_roles(self, provider: Any) -> None:
        available = await self._role_catalog(provider).get_available_roles()
        ids = set(await self._role_ids(provider))
        for entry in available:
            assert set(entry) >= {"id", "name"}
            assert entry["id"] in ids

    async def test_role_mapping_shape(self, provider: Any) -> None:
        mapping = provider.role_mapping
        if mapping is None:
            return
        assert isinstance(mapping, dict)
        for key, value in mapping.items():
            assert isinstance(key, str) and isinstance(value, list)
