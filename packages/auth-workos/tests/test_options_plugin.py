"""Options (env fallbacks, cookie password rule) and the plugin's hooks."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from mastra.auth.workos import WorkOSOptions, derive_fernet_key
from mastra.auth.workos.plugin import plugin
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings


def test_credentials_are_required(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match=r"^WorkOS API key and client ID are required$"):
        ProviderOptions({"client_id": "c"}, settings).parse(WorkOSOptions)


def test_env_fallbacks_and_redirect_default(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKOS_API_KEY", "sk_env")
    monkeypatch.setenv("WORKOS_CLIENT_ID", "client_env")
    monkeypatch.setenv("WORKOS_COOKIE_PASSWORD", "p" * 40)
    opts = ProviderOptions({"api_key": "sk_opt"}, settings).parse(WorkOSOptions)
    assert (opts.api_key, opts.client_id) == ("sk_opt", "client_env")  # option wins, env fills gaps
    assert opts.redirect_uri == "http://127.0.0.1:4111/api/auth/sso/callback"
    assert "sk_opt" not in repr(opts)


def test_cookie_password_rules(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    key = Fernet.generate_key().decode()
    assert derive_fernet_key(key) == key
    derived = derive_fernet_key("x" * 32)
    assert derived == derive_fernet_key("x" * 32) != derive_fernet_key("y" * 32)
    assert len(base64.urlsafe_b64decode(derived)) == 32
    Fernet(derived)  # usable as a Fernet key
    with pytest.raises(ConfigurationError, match=r"^WorkOS cookie password must be at least 32 characters$"):
        ProviderOptions({"api_key": "k", "client_id": "c", "cookie_password": "short"}, settings).parse(
            WorkOSOptions
        )
    prod = Settings(env="production", _env_file=None)
    with pytest.raises(ConfigurationError, match="required in production"):
        ProviderOptions({"api_key": "k", "client_id": "c"}, prod).parse(WorkOSOptions)
    with caplog.at_level(logging.WARNING, logger="mastra.auth.workos"):
        dev = ProviderOptions({"api_key": "k", "client_id": "c"}, settings).parse(WorkOSOptions)
    Fernet(dev.cookie_key)
    assert any("sessions will not survive a restart" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigurationError, match="provider must be one of"):
        ProviderOptions(
            {"api_key": "k", "client_id": "c", "provider": "Evil", "cookie_password": "x" * 32}, settings
        ).parse(WorkOSOptions)


def test_one_instance_serves_every_capability(app_settings: Settings) -> None:
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(plugin, "workos", distribution="mastra-auth-workos")
    assert registry.provider_names()["sso"] == ["workos"]
    auth = build_auth(app_settings, registry)
    assert auth.user is auth.session is auth.sso is auth.rbac is auth.audit
    assert auth.user.owns_sessions is True
    assert auth.user._auth is auth  # bound to the composed provider
    routes = {(r.method, r.path): r for r in registry.routes()}
    hook = routes[("POST", "/auth/workos/webhook")]
    assert hook.requires_auth is False and hook.csrf is False
    assert routes[("GET", "/auth/workos/admin-portal")].permission == "settings:write"


def test_workos_user_requires_workos_sessions(app_settings: Settings) -> None:
    app_settings.auth.session = "memory"
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(plugin, "workos")
    with pytest.raises(ConfigurationError, match="set MASTRA_AUTH__SESSION=workos"):
        build_auth(app_settings, registry)


def test_entry_point_is_declared() -> None:
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="mastra_ee") if ep.name == "workos"]
    assert ep.value == "mastra.auth.workos.plugin:plugin"


def test_capabilities_fragment_needs_settings_write(provider) -> None:
    from types import SimpleNamespace

    from mastra.core.ee.models import EEUser
    from mastra.core.ee.provider import MastraAuthProvider

    auth = MastraAuthProvider(user=provider, sso=provider)
    user = EEUser(id="u")
    ctx: Any = SimpleNamespace(auth=auth, user=user, permissions=["settings:*"])
    assert plugin.mastra_ee_capabilities(context=ctx) == {"workos": {"adminPortal": True}}
    for perms in (["settings:read"], [], None):
        assert (
            plugin.mastra_ee_capabilities(context=SimpleNamespace(auth=auth, user=user, permissions=perms))
            is None
        )
    assert (
        plugin.mastra_ee_capabilities(context=SimpleNamespace(auth=auth, user=None, permissions=["*"]))
        is None
    )
