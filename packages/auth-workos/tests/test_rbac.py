"""RBAC specifics beyond the conformance suite: cache, single flight, mapping, assignment."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mastra.core.ee.errors import AuthError
from mastra.core.ee.models import EEUser

ORG = "org_01EMULATED"


def ee(user: dict[str, Any], **meta: Any) -> EEUser:
    return EEUser(id=user["id"], metadata=meta)


async def test_multi_role_memberships_and_mapping(provider, emulator) -> None:
    user = emulator.add_user("multi@example.com")
    emulator.add_membership(user["id"], ORG, ["member", "auditor", "member"])
    emulator.add_membership(user["id"], "org_other", ["admin"])  # filtered by organization_id
    u = ee(user)
    assert await provider.get_roles(u) == ["member", "auditor"]
    # unmapped "auditor" falls back to _default
    assert await provider.get_permissions(u) == ["agents:read", "agents:execute", "studio:read"]
    nobody = emulator.add_user("none@example.com")
    assert await provider.get_permissions(ee(nobody)) == ["studio:read"]
    caps = provider.get_capabilities()
    assert caps.provider_managed_roles and caps.role_assignment and caps.role_source == "provider"
    assert await provider.get_permissions_for_role("nope") == ["studio:read"]


async def test_role_change_takes_effect_when_the_cache_expires(provider, emulator) -> None:
    provider.memberships_cache.ttl = 0.2
    user = emulator.add_user("ttl@example.com")
    m = emulator.add_membership(user["id"], ORG, ["member"])
    assert await provider.get_roles(ee(user)) == ["member"]
    emulator.set_roles(m["id"], ["admin"])
    assert await provider.get_roles(ee(user)) == ["member"]
    await asyncio.sleep(0.25)
    assert await provider.get_roles(ee(user)) == ["admin"]


async def test_concurrent_misses_share_one_request(provider, emulator) -> None:
    user = emulator.add_user("burst@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    before = len([r for r in emulator.requests if r[1].endswith("organization_memberships")])
    results = await asyncio.gather(*(provider.get_roles(ee(user)) for _ in range(20)))
    assert all(r == ["member"] for r in results)
    after = len([r for r in emulator.requests if r[1].endswith("organization_memberships")])
    assert after - before == 1


async def test_cache_is_bounded(provider, emulator) -> None:
    provider.memberships_cache.max_size = 3
    for i in range(6):
        await provider.get_roles(ee(emulator.add_user(f"b{i}@example.com")))
    assert len(provider.memberships_cache) == 3


async def test_errors_give_no_roles_and_are_not_cached(provider, emulator) -> None:
    user = emulator.add_user("err@example.com")
    emulator.add_membership(user["id"], ORG, ["admin"])
    emulator.down = True
    assert await provider.get_roles(ee(user)) == []
    assert await provider.get_permissions(ee(user)) == ["studio:read"]
    emulator.down = False
    assert await provider.get_roles(ee(user)) == ["admin"]


async def test_token_permissions_are_honoured_only_when_configured(workos_options, emulator) -> None:
    from mastra.auth.workos import WorkOSAuthProvider

    user = emulator.add_user("tok@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    plain = WorkOSAuthProvider.from_options(workos_options)
    honour = WorkOSAuthProvider.from_options({**workos_options, "honor_token_permissions": True})
    u = ee(user, tokenPermissions=["workflows:read"])
    assert "workflows:read" not in await plain.get_permissions(u)
    assert await honour.get_permissions(u) == [
        "agents:read",
        "agents:execute",
        "studio:read",
        "workflows:read",
    ]
    await plain.aclose()
    await honour.aclose()


async def test_assign_and_remove_roles(provider, emulator) -> None:
    user = emulator.add_user("assign@example.com")
    m = emulator.add_membership(user["id"], ORG, ["member"])
    assert await provider.get_roles(ee(user)) == ["member"]
    await provider.assign_role(user["id"], "admin")
    assert emulator.memberships[m["id"]]["roles"] == ["admin"]
    assert await provider.get_roles(ee(user)) == ["admin"]  # cache invalidated
    emulator.set_roles(m["id"], ["admin", "member"])
    await provider.remove_role(user["id"], "admin")
    assert emulator.memberships[m["id"]]["roles"] == ["member"]
    with pytest.raises(AuthError, match="only role"):
        await provider.remove_role(user["id"], "member")
    stranger = emulator.add_user("x@example.com")
    with pytest.raises(AuthError, match=f"User {stranger['id']} is not a member of organization {ORG}"):
        await provider.assign_role(stranger["id"], "admin")


async def test_assignment_needs_an_organization(workos_options) -> None:
    from mastra.auth.workos import WorkOSAuthProvider

    p = WorkOSAuthProvider.from_options({**workos_options, "organization_id": None})
    with pytest.raises(AuthError, match="organizationId is required for role assignment"):
        await p.assign_role("user_1", "admin")
    await p.aclose()
