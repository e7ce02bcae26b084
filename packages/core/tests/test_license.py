"""SPEC 5: license validation, caching, warn-once texts, dev rules, gating helpers and
the startup check of ``build_auth``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mastra.core.ee import ConfigurationError, PluginRegistry, Settings, build_auth, hookimpl
from mastra.core.ee import license as lic
from mastra.core.ee.models import LicenseInfo
from mastra.core.ee.plugins import effective_selection

VALID = "k" * 32
INVALID_TEXT = "[mastra-ee] Invalid or expired EE license. EE features are disabled."
DEV_TEXT = (
    "[mastra-ee] Enterprise features are enabled for local development, but no valid MASTRA_EE_LICENSE "
    "is configured. These features will be disabled in production without a valid license."
)
FEATURES = ["user", "session", "sso", "credentials", "rbac", "acl", "audit"]


def test_validate_license_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lic.validate_license() == LicenseInfo(valid=False)
    assert lic.validate_license("k" * 31) == LicenseInfo(valid=False)
    assert lic.validate_license("") == LicenseInfo(valid=False)
    info = lic.validate_license(VALID)
    assert info.valid and info.tier == "enterprise" and info.features == FEATURES
    monkeypatch.setenv("MASTRA_EE_LICENSE", VALID)
    assert lic.validate_license().valid
    assert not lic.validate_license("short").valid  # the argument wins over the environment


def test_is_license_valid_is_cached_for_60_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(lic.time, "monotonic", lambda: clock[0])
    monkeypatch.setenv("MASTRA_EE_LICENSE", VALID)
    assert lic.is_license_valid() is True
    monkeypatch.delenv("MASTRA_EE_LICENSE")
    clock[0] += 59
    assert lic.is_license_valid() is True  # still cached
    clock[0] += 2
    assert lic.is_license_valid() is False  # re-validated after 60 s
    monkeypatch.setenv("MASTRA_EE_LICENSE", VALID)
    assert lic.is_license_valid() is False
    lic.clear_license_cache()
    assert lic.is_license_valid() is True


def test_invalid_license_warns_once_until_cache_cleared(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MASTRA_EE_LICENSE", "too-short")
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        assert lic.is_license_valid() is False
        # Expire the cache without clearing warn-once flags: re-validation must not warn again.
        monkeypatch.setattr(lic, "_cache", None)
        assert lic.is_license_valid() is False
    assert caplog.text.count(INVALID_TEXT) == 1
    caplog.clear()
    lic.clear_license_cache()
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        assert lic.is_license_valid() is False
    assert caplog.text.count(INVALID_TEXT) == 1


def test_no_warning_when_license_unset(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        assert lic.is_license_valid() is False
    assert INVALID_TEXT not in caplog.text


def test_is_feature_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lic.is_feature_enabled("rbac") is False
    monkeypatch.setenv("MASTRA_EE_LICENSE", VALID)
    lic.clear_license_cache()
    assert lic.is_feature_enabled("rbac") is True
    assert lic.is_feature_enabled("fga") is False
    monkeypatch.setattr(lic, "validate_license", lambda key=None: LicenseInfo(valid=True))
    lic.clear_license_cache()
    assert lic.is_feature_enabled("anything") is True  # no feature list = everything
    monkeypatch.setattr(lic, "validate_license", lambda key=None: LicenseInfo(valid=True, features=["audit"]))
    lic.clear_license_cache()
    assert lic.is_feature_enabled("audit") and not lic.is_feature_enabled("rbac")


@pytest.mark.parametrize(
    ("dev", "env", "expected"),
    [
        (None, None, True),
        (None, "production", False),
        (None, "prod", False),
        (None, "PRODUCTION", False),
        (None, "staging", True),
        ("true", "production", True),
        ("1", "prod", True),
        ("TRUE", "production", True),
        ("false", "production", False),
        ("0", None, True),
        ("yes", "production", False),
    ],
)
def test_is_dev_environment(
    monkeypatch: pytest.MonkeyPatch, dev: str | None, env: str | None, expected: bool
) -> None:
    if dev is not None:
        monkeypatch.setenv("MASTRA_DEV", dev)
    if env is not None:
        monkeypatch.setenv("MASTRA_ENV", env)
    assert lic.is_dev_environment() is expected


class Auth:
    def __init__(self, cloud: bool = False) -> None:
        self.is_mastra_cloud_auth = cloud


def test_ee_enabled_and_feature_licensed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lic.is_ee_enabled() is True  # dev
    assert lic.is_feature_licensed(Auth(), "rbac") is True
    monkeypatch.setenv("MASTRA_ENV", "production")
    assert lic.is_ee_enabled() is False
    assert lic.is_feature_licensed(Auth(), "rbac") is False
    assert lic.is_feature_licensed(Auth(cloud=True), "rbac") is True  # cloud bypass
    assert lic.is_feature_licensed(object(), "audit") is False
    monkeypatch.setenv("MASTRA_EE_LICENSE", VALID)
    lic.clear_license_cache()
    assert lic.is_ee_enabled() is True
    assert lic.is_feature_licensed(Auth(), "audit") is True
    monkeypatch.setattr(lic, "validate_license", lambda key=None: LicenseInfo(valid=True, features=["rbac"]))
    lic.clear_license_cache()
    assert lic.is_feature_licensed(Auth(), "rbac") and not lic.is_feature_licensed(Auth(), "acl")


def test_dev_warning_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        lic.warn_dev_unlicensed_once()
        lic.warn_dev_unlicensed_once()
    assert caplog.text.count(DEV_TEXT) == 1
    caplog.clear()
    monkeypatch.setenv("MASTRA_ENV", "production")
    lic.clear_license_cache()
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        lic.warn_dev_unlicensed_once()
    assert DEV_TEXT not in caplog.text
    monkeypatch.delenv("MASTRA_ENV")
    monkeypatch.setenv("MASTRA_EE_LICENSE", VALID)
    lic.clear_license_cache()
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        lic.warn_dev_unlicensed_once()
    assert DEV_TEXT not in caplog.text


# -- startup check (build_auth) -------------------------------------------------------------------


class StubACL:
    async def can_access(self, *a: Any) -> bool:
        return True


class StubCloudUser:
    is_mastra_cloud_auth = True

    async def get_current_user(self, request: Any) -> None:
        return None

    async def get_user(self, user_id: str) -> None:
        return None


class StubPlugin:
    @hookimpl
    def mastra_ee_provider_names(self) -> dict[str, list[str]]:
        return {"acl": ["stub"], "user": ["stubcloud"]}

    @hookimpl
    def mastra_ee_acl_provider(self, name: str, options: Any) -> Any:
        return StubACL() if name == "stub" else None

    @hookimpl
    def mastra_ee_user_provider(self, name: str, options: Any) -> Any:
        return StubCloudUser() if name == "stubcloud" else None


@pytest.fixture
def registry() -> PluginRegistry:
    reg = PluginRegistry()
    reg.register_builtin()
    reg.register(StubPlugin(), "test-plugin", distribution="test-dist")
    return reg


TAIL = (
    "Set MASTRA_EE_LICENSE (at least 32 characters), or remove the "
    "MASTRA_AUTH__RBAC / MASTRA_AUTH__ACL selection."
)


@pytest.mark.parametrize(
    ("selection", "what"),
    [
        ({"rbac": "static"}, "RBAC is"),
        ({"acl": "stub"}, "ACL is"),
        ({"rbac": "static", "acl": "stub"}, "RBAC and ACL are"),
    ],
)
def test_startup_refuses_explicit_rbac_acl_without_license(
    monkeypatch: pytest.MonkeyPatch, registry: PluginRegistry, selection: dict[str, str], what: str
) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")
    with pytest.raises(ConfigurationError) as info:
        build_auth(Settings(auth=selection), registry)
    assert str(info.value) == f"[mastra-ee] {what} configured but no valid EE license was found. {TAIL}"


def test_startup_allows_rbac_with_license_or_in_dev(
    monkeypatch: pytest.MonkeyPatch, registry: PluginRegistry
) -> None:
    auth = build_auth(Settings(auth={"rbac": "static", "acl": "stub"}), registry)  # dev
    assert auth.rbac is not None and auth.acl is not None
    monkeypatch.setenv("MASTRA_ENV", "production")
    monkeypatch.setenv("MASTRA_EE_LICENSE", VALID)
    lic.clear_license_cache()
    assert build_auth(Settings(auth={"rbac": "static"}), registry).rbac is not None


def test_startup_cloud_auth_bypasses_license(
    monkeypatch: pytest.MonkeyPatch, registry: PluginRegistry
) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")
    auth = build_auth(Settings(auth={"user": "stubcloud", "rbac": "static"}), registry)
    assert auth.is_mastra_cloud_auth is True and auth.rbac is not None


def test_implicit_static_rbac_dropped_in_production(
    monkeypatch: pytest.MonkeyPatch, registry: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    class Better:
        @hookimpl
        def mastra_ee_provider_names(self) -> dict[str, list[str]]:
            return {"user": ["better"], "credentials": ["better"]}

    registry.register(Better(), "better-stub")
    selection, explicit = effective_selection(Settings(), registry)
    assert selection["rbac"] == "static" and explicit == set()
    monkeypatch.setenv("MASTRA_ENV", "production")
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        selection, explicit = effective_selection(Settings(), registry)
    assert "rbac" not in selection and selection["user"] == "better"
    assert "static RBAC is off (auth-only mode)" in caplog.text
