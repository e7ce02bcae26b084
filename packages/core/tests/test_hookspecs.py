"""Meta-tests of the plugin contract (as datasette's ``test_plugin_hooks_have_tests`` and
``test_plugin_hooks_are_documented``): every hookspec has a docstring, is documented in
``docs/plugins.md`` and is called by the host in a test; the capability list is the one
source of the slots, the settings and the hooks."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from mastra.core.ee import PluginRegistry, Settings, build_auth, hookimpl
from mastra.core.ee import hookspecs as hookspecs_module
from mastra.core.ee.capabilities import build_capabilities
from mastra.core.ee.hookspecs import CAPABILITIES, CAPABILITY_NAMES, capability
from mastra.core.ee.provider import SLOTS, MastraAuthProvider
from mastra.core.ee.routes import PluginRoute
from mastra.core.ee.settings import AuthSettings

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def _hookspecs() -> dict[str, Any]:
    """Every hookspec the host knows, by name, as pluggy sees them."""
    registry = PluginRegistry()
    specs = {}
    for name in vars(registry.pm.hook):
        caller = getattr(registry.pm.hook, name)
        if not name.startswith("_") and caller.has_spec():
            specs[name] = caller.spec.function
    return specs


HOOKSPECS = _hookspecs()


def test_hookspecs_are_found() -> None:
    assert len(HOOKSPECS) == len(CAPABILITIES) + 3  # + capabilities, routes, provider_names


@pytest.mark.parametrize("hook", sorted(HOOKSPECS))
def test_every_hookspec_has_a_docstring(hook: str) -> None:
    assert (inspect.getdoc(HOOKSPECS[hook]) or "").strip()


@pytest.mark.parametrize("hook", sorted(HOOKSPECS))
def test_every_hookspec_is_documented(hook: str) -> None:
    """The guide has a heading with the hook's exact signature."""
    arguments = ", ".join(inspect.signature(HOOKSPECS[hook]).parameters)
    heading = f"### `{hook}({arguments})`"
    assert re.search(f"^{re.escape(heading)}$", GUIDE.read_text(), re.MULTILINE), heading


# -- every hook is called by the host --------------------------------------------------------


class EveryHook:
    """Implements every hookspec and records which ones the host called."""

    def __init__(self) -> None:
        self.called: set[str] = set()
        self.providers = {cap.name: object() for cap in CAPABILITIES}

    def _make(self, hook: str, name: str) -> Any:
        self.called.add(hook)
        return self.providers[capability_of[hook]] if name == "every" else None

    @hookimpl
    def mastra_ee_user_provider(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_user_provider", name)

    @hookimpl
    def mastra_ee_session_provider(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_session_provider", name)

    @hookimpl
    def mastra_ee_sso_provider(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_sso_provider", name)

    @hookimpl
    def mastra_ee_credentials_provider(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_credentials_provider", name)

    @hookimpl
    def mastra_ee_rbac_provider(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_rbac_provider", name)

    @hookimpl
    def mastra_ee_acl_provider(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_acl_provider", name)

    @hookimpl
    def mastra_ee_audit_logger(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_audit_logger", name)

    @hookimpl
    def mastra_ee_audit_storage(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_audit_storage", name)

    @hookimpl
    def mastra_ee_api_key_provider(self, name: str, options: Any) -> Any:
        return self._make("mastra_ee_api_key_provider", name)

    @hookimpl
    def mastra_ee_capabilities(self, context: Any) -> dict[str, Any]:
        self.called.add("mastra_ee_capabilities")
        return {"every": {"seen": context.user is None}}

    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        self.called.add("mastra_ee_routes")

        async def endpoint(request: Any) -> None:
            return None

        return [PluginRoute("GET", "/every", endpoint)]

    @hookimpl
    def mastra_ee_provider_names(self) -> dict[str, list[str]]:
        self.called.add("mastra_ee_provider_names")
        return {cap.name: ["every"] for cap in CAPABILITIES}


capability_of = {cap.hook: cap.name for cap in CAPABILITIES}


def test_the_exercise_plugin_implements_every_hookspec() -> None:
    """A new hookspec fails here until :class:`EveryHook` (and so the test below) covers it."""
    registry = PluginRegistry()
    registry.register(EveryHook(), "every")
    assert registry.plugins["every"].hooks == sorted(HOOKSPECS)


async def test_host_calls_every_hook() -> None:
    plugin = EveryHook()
    registry = PluginRegistry()
    registry.register(plugin, "every")
    settings = Settings(auth={cap: "every" for cap in CAPABILITY_NAMES})
    auth = build_auth(settings, registry)  # the nine factory hooks
    assert [auth.slots()[cap.name] for cap in CAPABILITIES] == [plugin.providers[c] for c in CAPABILITY_NAMES]
    body = await build_capabilities(MastraAuthProvider(user=object()), None, registry=registry)
    assert body["every"] == {"seen": True}
    assert [(r.method, r.path) for r in registry.routes()] == [("GET", "/every")]
    assert registry.provider_names()["acl"] == ["every"]
    assert plugin.called == set(HOOKSPECS)


# -- one capability list ---------------------------------------------------------------------


def test_capability_list_is_the_one_source() -> None:
    assert SLOTS == CAPABILITY_NAMES == tuple(cap.name for cap in CAPABILITIES)
    selection = AuthSettings(**{cap: f"p-{cap}" for cap in CAPABILITY_NAMES}).selection()
    assert selection == {cap: f"p-{cap}" for cap in CAPABILITY_NAMES}
    provider = MastraAuthProvider()
    for cap in CAPABILITIES:
        assert hasattr(provider, cap.name)
        spec = HOOKSPECS[cap.hook]
        assert list(inspect.signature(spec).parameters) == ["name", "options"]
        # the hook's declared return type is the capability's protocol
        assert spec.__annotations__["return"] == f"{cap.protocol.__name__} | None"
        assert getattr(hookspecs_module, cap.protocol.__name__) is cap.protocol
        assert cap.env_name == f"MASTRA_AUTH__{cap.name.upper()}"
    assert capability("audit_storage").hook == "mastra_ee_audit_storage"
    with pytest.raises(ValueError, match="unknown capability 'auditing'"):
        capability("auditing")


def test_get_capabilities_flags_follow_the_slots() -> None:
    flags = MastraAuthProvider(audit=object(), rbac=object()).get_capabilities()
    assert list(flags) == ["user", "session", "sso", "credentials", "rbac", "acl", "audit"]
    assert flags["rbac"] is True and flags["audit"] is False  # a logger alone is not a browsable log
    assert MastraAuthProvider(audit_storage=object()).get_capabilities()["audit"] is True
