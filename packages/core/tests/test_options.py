"""One provider object per name and composition, whatever the number of capabilities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from mastra.core.ee import hookimpl
from mastra.core.ee.options import ProviderOptions, shared_provider
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings


class Everything:
    owns_sessions = True
    created = 0

    def __init__(self, options: Mapping[str, Any]) -> None:
        type(self).created += 1
        self.options = options

    async def get_current_user(self, request: Any) -> None:
        return None

    async def get_user(self, user_id: str) -> None:
        return None


class Plugin:
    def _make(self, name: str, options: Mapping[str, Any]) -> Any:
        return shared_provider(options, Everything) if name == "all" else None

    @hookimpl
    def mastra_ee_user_provider(self, name: str, options: Mapping[str, Any]) -> Any:
        return self._make(name, options)

    @hookimpl
    def mastra_ee_session_provider(self, name: str, options: Mapping[str, Any]) -> Any:
        return self._make(name, options)

    @hookimpl
    def mastra_ee_sso_provider(self, name: str, options: Mapping[str, Any]) -> Any:
        return self._make(name, options)


def test_build_auth_shares_one_instance_across_capabilities() -> None:
    Everything.created = 0
    settings = Settings(auth={"user": "all", "session": "all", "sso": "all", "options": {"all": {"k": "v"}}})
    registry = PluginRegistry()
    registry.register(Plugin(), "all")
    auth = build_auth(settings, registry)
    assert auth.user is auth.session is auth.sso  # the owns_sessions identity check passed too
    assert Everything.created == 1
    assert auth.user.options["k"] == "v" and auth.user.options.settings is settings
    # a second composition gets its own object
    assert build_auth(settings, registry).user is not auth.user and Everything.created == 2


def test_provider_options_is_read_only_and_hides_values_in_repr() -> None:
    options = ProviderOptions({"api_key": "sk_live_secret", "n": 1})
    assert dict(options) == {"api_key": "sk_live_secret", "n": 1} and len(options) == 2
    assert "sk_live_secret" not in repr(options)
    with pytest.raises(TypeError):
        options["n"] = 2  # type: ignore[index]


def test_shared_provider_keys_and_plain_mappings() -> None:
    options = ProviderOptions({})
    first = shared_provider(options, Everything)
    assert shared_provider(options, Everything) is first
    assert shared_provider(options, Everything, key="other") is not first
    # a plain dict (a test calling a hook directly) has nothing to share across calls
    assert shared_provider({}, Everything) is not shared_provider({}, Everything)
