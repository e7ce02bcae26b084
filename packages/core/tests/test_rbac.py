"""SPEC 4.5 default roles and resolution, SPEC 8.4 StaticRBACProvider (both modes),
role management through a writable user store, and the RBAC conformance suite."""

from __future__ import annotations

import logging
import types
from typing import Any

import pytest
from mastra.core.ee import MastraAuthProvider, with_ee
from mastra.core.ee.errors import AuthError, ConfigurationError, RoleNotFound
from mastra.core.ee.models import EEUser, RoleDefinition
from mastra.core.ee.permissions import (
    DEFAULT_ROLES,
    check_role_permissions,
    default_role_mapping,
    default_roles,
    resolve_permissions,
    resolve_permissions_from_mapping,
)
from mastra.core.ee.rbac import StaticRBACProvider
from mastra.core.testing.rbac import RBACProviderConformance


def user(role: Any = None, **metadata: Any) -> EEUser:
    if role is not None:
        metadata["role"] = role
    return EEUser(id="u1", metadata=metadata)


# -- default roles and resolution -----------------------------------------------------------


REFERENCE_RESOURCES_1_68 = [
    "a2a",
    "agent-builder",
    "agent-controller",
    "agents",
    "auth",
    "background-tasks",
    "channels",
    "datasets",
    "embedders",
    "experiments",
    "infrastructure",
    "logs",
    "mcp",
    "memory",
    "observability",
    "processor-providers",
    "processors",
    "schedules",
    "scores",
    "stored-agents",
    "stored-mcp-clients",
    "stored-prompt-blocks",
    "stored-scorers",
    "stored-skills",
    "stored-workflows",
    "stored-workspaces",
    "system",
    "tool-providers",
    "tools",
    "vector",
    "vectors",
    "workflows",
    "workspaces",
]
# The reference resources whose actions include execute (npm @mastra/core 1.68.0).
EXECUTABLE_1_68 = {
    "agent-builder",
    "agent-controller",
    "agents",
    "datasets",
    "mcp",
    "memory",
    "processors",
    "schedules",
    "tools",
    "vector",
    "workflows",
}


def test_default_roles_exact() -> None:
    by_id = {r.id: r for r in DEFAULT_ROLES}
    assert [r.id for r in DEFAULT_ROLES] == ["owner", "admin", "member", "viewer"]
    assert [r.name for r in DEFAULT_ROLES] == ["Owner", "Admin", "Member", "Viewer"]
    assert by_id["owner"].permissions == ["*"]
    assert by_id["admin"].permissions == [
        *(f"{r}:*" for r in REFERENCE_RESOURCES_1_68),
        "studio:*",
        "settings:*",
        "audit:read",
        "users:*",
        "sessions:*",
    ]
    member = ["studio:read"]
    for r in REFERENCE_RESOURCES_1_68:
        member += [f"{r}:read", f"{r}:execute"] if r in EXECUTABLE_1_68 else [f"{r}:read"]
    assert by_id["member"].permissions == member
    assert by_id["viewer"].permissions == ["studio:read", *(f"{r}:read" for r in REFERENCE_RESOURCES_1_68)]
    assert check_role_permissions(DEFAULT_ROLES) == []


def test_default_roles_never_grant_wildcard_actions() -> None:
    # A '*:<action>' grant would reach the audit log, users and sessions (SPEC 4.5).
    for r in DEFAULT_ROLES[1:]:
        assert not [p for p in r.permissions if p.startswith("*")], r.id


def test_default_roles_returns_copies() -> None:
    copies = default_roles()
    copies[0].permissions.append("x:read")
    assert DEFAULT_ROLES[0].permissions == ["*"]
    assert default_role_mapping()["viewer"] == DEFAULT_ROLES[3].permissions


async def test_admin_cannot_delete_audit() -> None:
    rbac = StaticRBACProvider()
    admin = user("admin")
    assert await rbac.has_permission(admin, "audit:read")
    assert not await rbac.has_permission(admin, "audit:delete")
    # The reference's admin reaches memory and observability; SPEC 4.5's admin too.
    assert await rbac.has_permission(admin, "memory:delete")
    assert await rbac.has_permission(admin, "stored-agents:share:a1")
    assert await rbac.has_permission(admin, "sessions:delete")


async def test_audit_users_and_sessions_stay_with_owner_and_admin() -> None:
    rbac = StaticRBACProvider()
    for role_id in ("member", "viewer"):
        someone = user(role_id)
        assert await rbac.has_permission(someone, "studio:read")
        assert await rbac.has_permission(someone, "datasets:read")
        for required in ("audit:read", "users:read", "sessions:read", "settings:read", "stored:read"):
            assert not await rbac.has_permission(someone, required), (role_id, required)
    member, viewer = user("member"), user("viewer")
    assert await rbac.has_permission(member, "schedules:execute")
    assert not await rbac.has_permission(member, "experiments:execute")
    assert not await rbac.has_permission(member, "agents:write")
    assert not await rbac.has_permission(viewer, "schedules:execute")


def role(rid: str, perms: list[str], inherits: list[str] | None = None) -> RoleDefinition:
    return RoleDefinition(id=rid, name=rid.title(), permissions=perms, inherits=inherits)


def test_resolve_permissions_dfs_order_cycles_unknown() -> None:
    roles = [
        role("a", ["a:read", "shared:read"], ["b", "c"]),
        role("b", ["b:read"], ["d", "a"]),  # cycle back to a
        role("c", ["c:read", "shared:read"]),
        role("d", ["d:read"], ["missing"]),
    ]
    assert resolve_permissions(["a"], roles) == ["a:read", "shared:read", "b:read", "d:read", "c:read"]
    assert resolve_permissions(["c", "ghost", "c"], roles) == ["c:read", "shared:read"]
    assert resolve_permissions([], roles) == []
    self_loop = [role("x", ["x:read"], ["x"])]
    assert resolve_permissions(["x"], self_loop) == ["x:read"]
    assert resolve_permissions(["a"], {r.id: r for r in roles})[:2] == ["a:read", "shared:read"]


def test_resolve_permissions_deep_chain_does_not_recurse() -> None:
    chain = [role(f"r{i}", [f"p{i}:read"], [f"r{i + 1}"]) for i in range(5000)]
    assert len(resolve_permissions(["r0"], chain)) == 5000


def test_resolve_from_mapping() -> None:
    mapping = {"admin": ["*"], "member": ["agents:read", "tools:read"], "_default": ["studio:read"]}
    assert resolve_permissions_from_mapping(["member"], mapping) == ["agents:read", "tools:read"]
    assert resolve_permissions_from_mapping(["stranger"], mapping) == ["studio:read"]
    assert resolve_permissions_from_mapping([], mapping) == ["studio:read"]
    assert resolve_permissions_from_mapping(["member", "member", "x"], mapping) == [
        "agents:read",
        "tools:read",
        "studio:read",
    ]
    assert resolve_permissions_from_mapping(["x"], {"admin": ["*"]}) == []


def test_check_role_permissions_errors_and_warnings() -> None:
    with pytest.raises(ConfigurationError, match=r"Role 'ops': Malformed permission 'Agents:read'"):
        check_role_permissions([role("ops", ["agents:read", "Agents:read"])])
    with pytest.raises(ConfigurationError, match=r"Role 'ops': Malformed permission 'legacy'"):
        check_role_permissions({"ops": ["legacy"]})
    with pytest.raises(ConfigurationError, match="must be a list"):
        check_role_permissions({"ops": "agents:read"})  # type: ignore[dict-item]
    warnings = check_role_permissions([role("ops", ["widgets:read", "agents:fly", "*:read"], ["nope"])])
    assert warnings == [
        "Role 'ops': permission 'widgets:read' has an unknown resource 'widgets'",
        "Role 'ops': permission 'agents:fly' has an unknown action 'fly'",
        "Role 'ops' inherits unknown role 'nope'",
    ]


# -- StaticRBACProvider ------------------------------------------------------------------------


async def test_roles_from_metadata_forms() -> None:
    rbac = StaticRBACProvider()
    assert await rbac.get_roles(user("admin")) == ["admin"]
    assert await rbac.get_roles(user(" admin , viewer,,")) == ["admin", "viewer"]
    assert await rbac.get_roles(user(roles=["member", "viewer"])) == ["member", "viewer"]
    assert await rbac.get_roles(user("admin", roles=["viewer", "admin"])) == ["admin", "viewer"]
    assert await rbac.get_roles(user()) == []
    assert await rbac.get_roles(user(42)) == []
    custom = StaticRBACProvider(role_field="group")
    assert await custom.get_roles(user(group="member")) == ["member"]
    assert await custom.get_roles(user("admin")) == []


async def test_default_role_applies_only_without_roles() -> None:
    rbac = StaticRBACProvider(default_role="viewer")
    assert await rbac.get_roles(user()) == ["viewer"]
    assert await rbac.get_roles(user("member")) == ["member"]
    assert await rbac.has_permission(user(), "studio:read")


async def test_comma_inside_list_entry_cannot_poison_the_cache() -> None:
    # Regression: ["admin,viewer"] and ["admin", "viewer"] must mean the same role set,
    # so the comma-joined cache key can never map one user's set onto another's.
    rbac = StaticRBACProvider(role_mapping={"admin": ["*"], "viewer": ["studio:read"], "_default": []})
    assert await rbac.get_roles(user(roles=["admin,viewer"])) == ["admin", "viewer"]
    assert await rbac.get_permissions(user(roles=["viewer"])) == ["studio:read"]
    assert await rbac.get_permissions(user(roles=["admin,viewer"])) == ["*", "studio:read"]


async def test_permissions_cached_per_role_set_without_mutating_user() -> None:
    rbac = StaticRBACProvider()
    u = user(roles=["viewer", "member"])
    first = await rbac.get_permissions(u)
    assert u.metadata["roles"] == ["viewer", "member"]
    assert len(rbac._cache) == 1
    assert await rbac.get_permissions(user(roles=["member", "viewer"])) == first  # same key
    assert len(rbac._cache) == 1
    assert "member,viewer" in rbac._cache
    rbac.clear_cache()
    assert len(rbac._cache) == 0
    assert await rbac.get_permissions(u) == first


async def test_cache_is_bounded() -> None:
    rbac = StaticRBACProvider(role_mapping={"_default": ["studio:read"]}, cache_size=3)
    for i in range(10):
        assert await rbac.get_permissions(user(f"r{i}")) == ["studio:read"]
    assert len(rbac._cache) == 3


async def test_mapping_mode() -> None:
    mapping = {
        "admin": ["*"],
        "member": ["agents:read", "agents:execute"],
        "superUser": ["*:*"],
        "_default": [],
    }
    rbac = StaticRBACProvider(role_mapping=mapping)
    assert rbac.role_mapping == mapping
    assert rbac.role_mapping is not rbac.role_mapping  # a copy each time
    defs = await rbac.list_role_definitions()
    assert [(d.id, d.name) for d in defs] == [
        ("admin", "Admin"),
        ("member", "Member"),
        ("superUser", "SuperUser"),
    ]
    assert await rbac.get_available_roles() == [
        {"id": "admin", "name": "Admin"},
        {"id": "member", "name": "Member"},
        {"id": "superUser", "name": "SuperUser"},
    ]
    assert await rbac.get_permissions_for_role("member") == ["agents:read", "agents:execute"]
    with pytest.raises(RoleNotFound, match="Role '_default' not found"):
        await rbac.get_permissions_for_role("_default")
    assert await rbac.get_permissions(user("nobody")) == []
    caps = rbac.get_capabilities()
    assert caps.role_source == "config" and caps.role_inheritance is False and caps.role_assignment is False


async def test_roles_mode_with_inheritance_and_dict_options() -> None:
    rbac = StaticRBACProvider(
        roles=[
            {"id": "base", "permissions": ["studio:read"]},
            {"id": "ops", "name": "Operations", "permissions": ["logs:*"], "inherits": ["base"]},
        ]
    )
    assert rbac.role_mapping is None
    assert await rbac.get_permissions(user("ops")) == ["logs:*", "studio:read"]
    assert await rbac.get_permissions_for_role("ops") == ["logs:*", "studio:read"]
    assert [(d.id, d.name) for d in await rbac.list_role_definitions()] == [
        ("base", "Base"),
        ("ops", "Operations"),
    ]
    with pytest.raises(RoleNotFound) as info:
        await rbac.get_permissions_for_role("admin")
    assert info.value.status == 404
    caps = rbac.get_capabilities()
    assert caps.role_inheritance is True and caps.multi_role is False and caps.role_source == "config"


async def test_has_all_and_any() -> None:
    rbac = StaticRBACProvider()
    member = user("member")
    assert await rbac.has_all_permissions(member, []) is True
    assert await rbac.has_any_permission(member, []) is False
    assert await rbac.has_all_permissions(member, ["agents:read", "tools:execute:t1"]) is True
    assert await rbac.has_all_permissions(member, ["agents:read", "agents:delete"]) is False
    assert await rbac.has_any_permission(member, ["agents:delete", "logs:read"]) is True
    assert await rbac.has_role(member, "member") and not await rbac.has_role(member, "admin")


def test_from_options_parses_toml_and_env_forms() -> None:
    opts = {
        "role_mapping": '{"admin": ["*"], "_default": ["studio:read"]}',
        "role_field": "group",
        "default_role": "admin",
        "cache_size": "16",
    }
    rbac = StaticRBACProvider.from_options(types.MappingProxyType(opts))
    assert rbac.role_mapping == {"admin": ["*"], "_default": ["studio:read"]}
    assert rbac.role_field == "group" and rbac.default_role == "admin" and rbac._cache_size == 16
    roles = StaticRBACProvider.from_options({"roles": '[{"id": "x", "permissions": ["agents:read"]}]'})
    assert roles.role_mapping is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"roles": [{"id": "x", "permissions": ["Bad"]}]}, "Role 'x': Malformed permission 'Bad'"),
        ({"role_mapping": {"x": ["agents:read:"]}}, "Role 'x': Malformed permission"),
        ({"roles": [], "role_mapping": {}}, "either 'roles' or 'role_mapping'"),
        ({"roles": "{not json"}, "not valid JSON"),
        ({"roles": [{"id": "x"}, {"id": "x"}]}, "defined twice: x"),
        ({"roles": [{"id": "a,b"}]}, "contain no comma"),
        ({"roles": [{"name": "no id"}]}, "is invalid"),
        ({"role_mapping": ["admin"]}, "must be a table"),
        ({"role_mapping": {"x": "agents:read"}}, "must be a list of permissions"),
        ({"role_field": 3}, "static: option 'role_field': Input should be a valid string"),
        ({"role_mapping": "{not json"}, "static: option 'role_mapping': not valid JSON"),
        ({"cache_size": "0"}, "static: option 'cache_size': Input should be greater than 0"),
        ({"bogus": 1}, "static: unknown option 'bogus'"),
        ({"role_feild": "group"}, "static: unknown option 'role_feild' (did you mean 'role_field'?)"),
    ],
)
def test_startup_validation(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        StaticRBACProvider.from_options(options)
    assert message in str(info.value)


def test_unknown_vocabulary_warns_at_startup(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mastra.ee.rbac"):
        StaticRBACProvider(role_mapping={"x": ["widgets:read"]}, default_role="ghost")
    assert "permission 'widgets:read' has an unknown resource 'widgets'" in caplog.text
    assert "default_role 'ghost' is not a defined role" in caplog.text


# -- management through a writable user store ---------------------------------------------------


class WritableUsers:
    """A user provider with ``set_user_role`` (what embedded Better Auth offers)."""

    def __init__(self) -> None:
        self.roles: dict[str, str | None] = {"u1": "viewer", "u2": "member,viewer"}
        self.writes: list[tuple[str, str | None]] = []

    async def get_current_user(self, request: Any) -> EEUser | None:
        return None

    async def get_user(self, user_id: str) -> EEUser | None:
        if user_id not in self.roles:
            return None
        role_value = self.roles[user_id]
        return EEUser(id=user_id, metadata={"role": role_value} if role_value else {})

    async def set_user_role(self, user_id: str, role: str | None) -> None:
        self.writes.append((user_id, role))
        self.roles[user_id] = role


class RecordingAudit:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def log(self, event: Any) -> None:
        self.events.append(event)


async def test_assign_and_remove_role_write_through_user_store() -> None:
    users, audit = WritableUsers(), RecordingAudit()
    rbac = StaticRBACProvider()
    auth = with_ee(MastraAuthProvider(), user=users, rbac=rbac, audit=audit)
    assert rbac.get_capabilities().role_assignment is True

    await rbac.assign_role("u1", "admin")
    assert users.writes[-1] == ("u1", "admin")
    assert await rbac.get_roles(await users.get_user("u1")) == ["admin"]  # type: ignore[arg-type]

    await rbac.remove_role("u2", "viewer")
    assert users.roles["u2"] == "member"

    with pytest.raises(AuthError, match="only role") as info:
        await rbac.remove_role("u2", "member")
    assert info.value.status == 409
    with pytest.raises(AuthError, match="does not have role 'admin'"):
        await rbac.remove_role("u2", "admin")
    with pytest.raises(RoleNotFound):
        await rbac.assign_role("u1", "emperor")
    with pytest.raises(AuthError, match="User 'ghost' not found"):
        await rbac.assign_role("ghost", "admin")
    assert auth.rbac is rbac

    changes = [e for e in audit.events if e.action == "users.role-change"]
    assert [(e.resource.id, e.metadata) for e in changes] == [
        ("u1", {"previousRoles": ["viewer"], "roles": ["admin"]}),
        ("u2", {"previousRoles": ["member", "viewer"], "roles": ["member"]}),
    ]
    assert all(e.outcome == "success" and e.actor.type == "system" for e in changes)


async def test_assign_role_without_writable_store_is_a_clear_error() -> None:
    class ReadOnlyUsers:
        async def get_current_user(self, request: Any) -> None:
            return None

        async def get_user(self, user_id: str) -> None:
            return None

    rbac = StaticRBACProvider()
    with_ee(MastraAuthProvider(), user=ReadOnlyUsers(), rbac=rbac)
    assert rbac.get_capabilities().role_assignment is False
    with pytest.raises(AuthError, match="writable user store") as info:
        await rbac.assign_role("u1", "admin")
    assert info.value.code == "role_assignment_unsupported"
    unbound = StaticRBACProvider()
    with pytest.raises(AuthError, match="writable user store"):
        await unbound.remove_role("u1", "admin")


# -- conformance ---------------------------------------------------------------------------------


class TestStaticRolesConformance(RBACProviderConformance):
    @pytest.fixture
    def provider(self) -> StaticRBACProvider:
        return StaticRBACProvider()

    @pytest.fixture
    def user_with_roles(self) -> Any:
        return lambda roles: EEUser(id="c1", metadata={"role": ",".join(roles)} if roles else {})


class TestStaticMappingConformance(RBACProviderConformance):
    @pytest.fixture
    def provider(self) -> StaticRBACProvider:
        return StaticRBACProvider(
            role_mapping={**default_role_mapping(), "_default": ["studio:read"]}, role_field="roles"
        )

    @pytest.fixture
    def user_with_roles(self) -> Any:
        async def make(roles: list[str]) -> EEUser:
            return EEUser(id="c2", metadata={"roles": list(roles)})

        return make


async def test_raw_role_fast_path_never_mixes_role_sources() -> None:
    rbac = StaticRBACProvider(role_mapping={"admin": ["agents:*"], "viewer": ["studio:read"], "_default": []})
    plain = user("admin")
    both = user("admin", roles=["viewer"])
    assert await rbac.get_permissions(plain) == ["agents:*"]
    assert await rbac.get_permissions(both) == ["agents:*", "studio:read"]
    assert await rbac.get_permissions(plain) == ["agents:*"]
    plain.metadata["role"] = "viewer"  # a role change takes effect at once
    assert await rbac.get_permissions(plain) == ["studio:read"]
    assert not await rbac.has_permission(plain, "agents:read")
    with_default = StaticRBACProvider(default_role="viewer")
    assert await with_default.get_permissions(user("")) == await with_default.get_permissions(user())


def test_vocabulary_warnings_are_capped(caplog: pytest.LogCaptureFixture) -> None:
    mapping = {f"r{i}": [f"widget{i}:read"] for i in range(25)}
    with caplog.at_level(logging.WARNING, logger="mastra.ee.rbac"):
        StaticRBACProvider(role_mapping=mapping)
    assert caplog.text.count("unknown resource") == 10
    assert "15 more permission warnings not shown" in caplog.text
