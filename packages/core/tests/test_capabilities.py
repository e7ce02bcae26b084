"""SPEC 7: every shape of the capabilities body, license gating, available roles and
plugin fragment merging (SPEC 6.5)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from mastra.core.ee import MastraAuthProvider, PluginRegistry, Settings, hookimpl, with_ee
from mastra.core.ee import capabilities as capabilities_module
from mastra.core.ee.capabilities import (
    CapabilityContext,
    build_capabilities,
    deep_merge_fragment,
    sso_login_url,
)
from mastra.core.ee.errors import RoleNotFound
from mastra.core.ee.models import EEUser, SSOLoginConfig
from mastra.core.ee.rbac import StaticRBACProvider

LICENSE = "L" * 32


class Users:
    async def get_current_user(self, request: Any) -> None:
        return None

    async def get_user(self, user_id: str) -> None:
        return None


class SSO:
    def __init__(self, description: str | None = "Use your company account", asynchronous: bool = False):
        self.description = description
        self.asynchronous = asynchronous

    def _button(self) -> SSOLoginConfig:
        return SSOLoginConfig(
            provider="workos", text="Sign in", icon="https://i/x.svg", description=self.description
        )

    def get_login_button_config(self) -> Any:
        if self.asynchronous:

            async def later() -> SSOLoginConfig:
                return self._button()

            return later()
        return self._button()


class Credentials:
    async def sign_in(self, *a: Any) -> None: ...
    async def sign_up(self, *a: Any) -> None: ...


class CredentialsToggle(Credentials):
    def __init__(self, enabled: bool, asynchronous: bool = False) -> None:
        self.enabled, self.asynchronous = enabled, asynchronous

    def is_sign_up_enabled(self) -> Any:
        if self.asynchronous:

            async def later() -> bool:
                return self.enabled

            return later()
        return self.enabled


class Storage:
    pass


ANN = EEUser(
    id="u1",
    email="a@b.c",
    name="Ann",
    avatar_url="https://a/x.png",
    metadata={"role": "owner", "secretThing": "s3cr3t", "tokenType": "session"},
)


def settings(**kw: Any) -> Settings:
    return Settings(**kw)


@pytest.fixture(autouse=True)
def _reset_merge_warnings() -> None:
    capabilities_module._warned_keys.clear()


# -- disabled and public shapes ----------------------------------------------------------------


async def test_disabled_shape_is_exact() -> None:
    auth = with_ee(MastraAuthProvider(), sso=SSO(), credentials=Credentials(), rbac=StaticRBACProvider())
    assert await build_capabilities(auth, ANN, request=None, settings=settings()) == {
        "enabled": False,
        "login": None,
    }


async def test_public_both() -> None:
    auth = with_ee(MastraAuthProvider(), user=Users(), sso=SSO(), credentials=Credentials())
    body = await build_capabilities(auth, None, request=None, settings=settings())
    assert body == {
        "enabled": True,
        "login": {
            "type": "both",
            "signUpEnabled": True,
            "description": "Use your company account",
            "sso": {
                "provider": "workos",
                "text": "Sign in",
                "icon": "https://i/x.svg",
                "description": "Use your company account",
                "url": "/api/auth/sso/login",
            },
        },
    }


async def test_public_sso_only_has_no_sign_up_flag() -> None:
    auth = with_ee(MastraAuthProvider(), user=Users(), sso=SSO(description=None, asynchronous=True))
    body = await build_capabilities(auth, None, request=None, settings=settings())
    assert body == {
        "enabled": True,
        "login": {
            "type": "sso",
            "sso": {
                "provider": "workos",
                "text": "Sign in",
                "icon": "https://i/x.svg",
                "url": "/api/auth/sso/login",
            },
        },
    }


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_public_credentials_only_with_toggle(asynchronous: bool) -> None:
    auth = with_ee(MastraAuthProvider(), user=Users(), credentials=CredentialsToggle(False, asynchronous))
    body = await build_capabilities(auth, None, request=None, settings=settings())
    assert body == {"enabled": True, "login": {"type": "credentials", "signUpEnabled": False}}


async def test_public_no_login_method() -> None:
    auth = with_ee(MastraAuthProvider(), user=Users())
    assert await build_capabilities(auth, None, request=None, settings=settings()) == {
        "enabled": True,
        "login": None,
    }


async def test_configured_description_wins_over_sso_description() -> None:
    auth = with_ee(MastraAuthProvider(), user=Users(), sso=SSO(), credentials=Credentials())
    s = settings(auth={"login_description": "Company SSO"})
    body = await build_capabilities(auth, None, request=None, settings=s)
    assert body["login"]["description"] == "Company SSO"
    assert body["login"]["sso"]["description"] == "Use your company account"
    creds_only = with_ee(MastraAuthProvider(), user=Users(), credentials=Credentials())
    body = await build_capabilities(creds_only, None, request=None, settings=s)
    assert body["login"] == {"type": "credentials", "signUpEnabled": True, "description": "Company SSO"}


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        ("/api", "/api/auth/sso/login"),
        ("/mastra", "/mastra/auth/sso/login"),
        ("/custom-api/", "/custom-api/auth/sso/login"),
        ("", "/auth/sso/login"),
        ("custom", "/custom/auth/sso/login"),
        ("  /x/  ", "/x/auth/sso/login"),
        ("/", "/auth/sso/login"),
    ],
)
async def test_sso_url_rule(prefix: str, url: str) -> None:
    assert sso_login_url(prefix) == url
    auth = with_ee(MastraAuthProvider(), user=Users(), sso=SSO())
    body = await build_capabilities(auth, None, request=None, settings=settings(api_prefix=prefix))
    assert body["login"]["sso"]["url"] == url


# -- authenticated shapes ------------------------------------------------------------------------


def full_auth(rbac: Any = None, **extra: Any) -> MastraAuthProvider:
    return with_ee(
        MastraAuthProvider(),
        user=Users(),
        session=object(),
        sso=SSO(),
        credentials=Credentials(),
        rbac=rbac if rbac is not None else StaticRBACProvider(),
        audit_storage=Storage(),
        **extra,
    )


async def test_authenticated_owner_in_dev() -> None:
    body = await build_capabilities(full_auth(), ANN, request=None, settings=settings())
    assert body["user"] == {"id": "u1", "email": "a@b.c", "name": "Ann", "avatarUrl": "https://a/x.png"}
    assert body["capabilities"] == {
        "user": True,
        "session": True,
        "sso": True,
        "credentials": True,
        "rbac": True,
        "acl": False,
        "audit": True,
    }
    assert body["access"] == {"roles": ["owner"], "permissions": ["*"]}
    assert body["availableRoles"] == [
        {"id": "admin", "name": "Admin"},
        {"id": "member", "name": "Member"},
        {"id": "viewer", "name": "Viewer"},
    ]
    assert set(body) == {"enabled", "login", "user", "capabilities", "access", "availableRoles"}


async def test_user_without_optional_fields() -> None:
    body = await build_capabilities(full_auth(), EEUser(id="u2"), request=None, settings=settings())
    assert body["user"] == {"id": "u2"}
    assert body["access"] == {"roles": [], "permissions": []}
    assert "availableRoles" not in body


async def test_non_admin_gets_no_available_roles() -> None:
    member = EEUser(id="u3", metadata={"role": "admin"})  # admin has no '*' → no preview list
    body = await build_capabilities(full_auth(), member, request=None, settings=settings())
    assert body["access"]["roles"] == ["admin"]
    assert "availableRoles" not in body


async def test_star_star_admin_gets_available_roles() -> None:
    rbac = StaticRBACProvider(role_mapping={"root": ["*:*"], "viewer": ["studio:read"]})
    body = await build_capabilities(
        full_auth(rbac), EEUser(id="r", metadata={"role": "root"}), request=None, settings=settings()
    )
    assert body["availableRoles"] == [{"id": "viewer", "name": "Viewer"}]


async def test_production_without_license_gates_rbac_acl_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")
    body = await build_capabilities(full_auth(acl=object()), ANN, request=None, settings=settings())
    assert body["capabilities"] == {
        "user": True,
        "session": True,
        "sso": True,
        "credentials": True,
        "rbac": False,
        "acl": False,
        "audit": False,
    }
    assert body["access"] is None
    assert "availableRoles" not in body


async def test_production_with_license(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")
    monkeypatch.setenv("MASTRA_EE_LICENSE", LICENSE)
    body = await build_capabilities(full_auth(acl=object()), ANN, request=None, settings=settings())
    assert (
        body["capabilities"]["rbac"] is body["capabilities"]["acl"] is body["capabilities"]["audit"] is True
    )
    assert body["access"] == {"roles": ["owner"], "permissions": ["*"]}


async def test_cloud_auth_bypasses_license(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")
    base = MastraAuthProvider(is_mastra_cloud_auth=True)
    auth = with_ee(base, user=Users(), rbac=StaticRBACProvider())
    body = await build_capabilities(auth, ANN, request=None, settings=settings())
    assert body["capabilities"]["rbac"] is True and body["access"] is not None


async def test_logger_alone_does_not_enable_audit() -> None:
    auth = with_ee(MastraAuthProvider(), user=Users(), audit=object())
    body = await build_capabilities(auth, ANN, request=None, settings=settings())
    assert body["capabilities"]["audit"] is False
    assert body["access"] is None


class BrokenRBAC(StaticRBACProvider):
    async def get_permissions(self, user: EEUser) -> list[str]:
        raise RuntimeError("directory down")


async def test_access_error_gives_null(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        body = await build_capabilities(full_auth(BrokenRBAC()), ANN, request=None, settings=settings())
    assert body["access"] is None
    assert "availableRoles" not in body
    assert "directory down" in caplog.text


class PreviewRBAC:
    """Accessors in both sync and async forms; role lookups must run concurrently."""

    def __init__(
        self,
        roles: list[dict[str, str]],
        perms: dict[str, Any],
        *,
        sync_list: bool = False,
        list_error: Exception | None = None,
        concurrent: int = 0,
    ) -> None:
        self.roles, self.perms, self.sync_list, self.list_error = roles, perms, sync_list, list_error
        self.concurrent = concurrent
        self.waiting = 0
        self.all_waiting = asyncio.Event()
        self.role_mapping = None

    async def get_roles(self, user: EEUser) -> list[str]:
        return ["root"]

    def get_permissions(self, user: EEUser) -> list[str]:  # sync accessor on purpose
        return ["*"]

    def get_available_roles(self) -> Any:
        if self.list_error is not None:
            raise self.list_error
        if self.sync_list:
            return self.roles

        async def later() -> list[dict[str, str]]:
            return self.roles

        return later()

    async def get_permissions_for_role(self, role_id: str) -> list[str]:
        if self.concurrent:
            self.waiting += 1
            if self.waiting == self.concurrent:
                self.all_waiting.set()
            await asyncio.wait_for(self.all_waiting.wait(), timeout=2)
        value = self.perms[role_id]
        if isinstance(value, Exception):
            raise value
        return value


async def test_available_roles_resolved_concurrently_and_filtered(caplog: pytest.LogCaptureFixture) -> None:
    rbac = PreviewRBAC(
        [
            {"id": "root", "name": "Root"},
            {"id": "super", "name": "Super"},
            {"id": "dev", "name": "Dev"},
            {"id": "bad", "name": "Bad"},
        ],
        {"root": ["*"], "super": ["*:*", "x:read"], "dev": ["agents:read"], "bad": RoleNotFound("gone")},
        concurrent=4,
    )
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        body = await build_capabilities(full_auth(rbac), ANN, request=None, settings=settings())
    assert body["access"] == {"roles": ["root"], "permissions": ["*"]}
    assert body["availableRoles"] == [{"id": "dev", "name": "Dev"}]
    assert "failed to list permissions for role bad: gone" in caplog.text


async def test_available_roles_without_permission_lookup_keeps_all() -> None:
    class NoLookup(PreviewRBAC):
        get_permissions_for_role = None  # type: ignore[assignment]

    rbac = NoLookup([{"id": "root", "name": "Root"}], {}, sync_list=True)
    del rbac.perms
    body = await build_capabilities(full_auth(rbac), ANN, request=None, settings=settings())
    assert body["availableRoles"] == [{"id": "root", "name": "Root"}]


async def test_available_roles_listing_error_omits_key(caplog: pytest.LogCaptureFixture) -> None:
    rbac = PreviewRBAC([], {}, list_error=RuntimeError("boom"))
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        body = await build_capabilities(full_auth(rbac), ANN, request=None, settings=settings())
    assert "availableRoles" not in body
    assert body["access"] is not None
    assert "failed to list available roles for admin user: boom" in caplog.text


# -- plugin fragments -----------------------------------------------------------------------------


class FragmentPlugin:
    def __init__(self, fragment: Any = None, error: Exception | None = None) -> None:
        self.fragment, self.error = fragment, error
        self.contexts: list[CapabilityContext] = []

    @hookimpl
    def mastra_ee_capabilities(self, context: CapabilityContext) -> Any:
        self.contexts.append(context)
        if self.error is not None:
            raise self.error
        return self.fragment


async def test_plugin_fragments_merged_last(caplog: pytest.LogCaptureFixture) -> None:
    registry = PluginRegistry()
    b = FragmentPlugin({"workos": {"adminPortal": True}, "capabilities": {"rbac": False, "extra": True}})
    a = FragmentPlugin({"workos": {"directory": True}, "enabled": "hijack", "access": {"roles": ["x"]}})
    broken = FragmentPlugin(error=RuntimeError("kaput"))
    registry.register(b, "b-plugin", distribution="dist-b")
    registry.register(a, "a-plugin", distribution="dist-a")
    registry.register(broken, "c-plugin", distribution="dist-c")
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        body = await build_capabilities(
            full_auth(), ANN, request="REQ", settings=settings(), registry=registry
        )
        await build_capabilities(full_auth(), ANN, request="REQ", settings=settings(), registry=registry)
    assert body["workos"] == {"directory": True, "adminPortal": True}
    assert body["enabled"] is True  # core value kept
    assert body["capabilities"]["rbac"] is True and body["capabilities"]["extra"] is True
    assert body["access"] == {"roles": ["owner"], "permissions": ["*"]}
    assert caplog.text.count("key 'enabled' conflicts") == 1  # one-time warning
    assert caplog.text.count("key 'capabilities.rbac' conflicts") == 1
    assert "capabilities hook of plugin 'c-plugin' failed: kaput" in caplog.text
    ctx = a.contexts[0]
    assert ctx.user is ANN and ctx.request == "REQ" and ctx.api_prefix == "/api"
    assert ctx.licensed == {"rbac": True, "acl": True, "audit": True}
    assert ctx.permissions == ["*"]


async def test_fragments_reach_public_shape_and_not_disabled() -> None:
    registry = PluginRegistry()
    plugin = FragmentPlugin({"banner": "hi"})
    registry.register(plugin, "p")
    public = with_ee(MastraAuthProvider(), user=Users())
    body = await build_capabilities(public, None, request=None, settings=settings(), registry=registry)
    assert body == {"enabled": True, "login": None, "banner": "hi"}
    assert plugin.contexts[-1].user is None and plugin.contexts[-1].permissions is None
    disabled = await build_capabilities(
        MastraAuthProvider(), None, request=None, settings=settings(), registry=registry
    )
    assert disabled == {"enabled": False, "login": None}


async def test_registry_taken_from_build_auth_attribute() -> None:
    registry = PluginRegistry()
    registry.register(FragmentPlugin({"x": 1}), "p")
    auth = with_ee(MastraAuthProvider(), user=Users())
    auth.plugin_registry = registry  # type: ignore[attr-defined]
    assert (await build_capabilities(auth, None, request=None, settings=settings()))["x"] == 1


def test_deep_merge_rules() -> None:
    fragment = {"new": {"a": [1]}, "nested": {"inner": {"k": 2}, "v": 9}, "scalar": {"x": 1}}
    target: dict[str, Any] = {"nested": {"inner": {"j": 1}, "v": 1}, "scalar": 5}
    out = deep_merge_fragment(target, fragment)
    assert out is target
    assert target == {"nested": {"inner": {"j": 1, "k": 2}, "v": 1}, "scalar": 5, "new": {"a": [1]}}
    fragment["new"]["a"].append(2)  # merged values are copies
    assert target["new"] == {"a": [1]}
