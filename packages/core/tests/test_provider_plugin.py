"""``provider_plugin``: the hooks it generates, one instance per composition, per-capability
overrides, and that every helper-declared plugin (built-in, installed, reference) has
exactly the hooks of the capabilities it declares."""

from __future__ import annotations

from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any

import pytest
from mastra.core.ee import (
    ConfigurationError,
    PluginRegistry,
    PluginRoute,
    ProviderOptions,
    ProviderPlugin,
    Settings,
    build_auth,
    combine_plugins,
    provider_plugin,
)
from mastra.core.ee.defaults import plugin as builtin_plugin
from mastra.core.ee.hookspecs import ENTRY_POINT_GROUP, capability
from mastra.core.testing.reference import reference_plugin


class Everything:
    owns_sessions = True
    created = 0

    def __init__(self, options: ProviderOptions) -> None:
        type(self).created += 1
        self.options = options

    async def get_current_user(self, request: Any) -> None:
        return None

    async def get_user(self, user_id: str) -> None:
        return None


class StandAloneRBAC:
    def __init__(self, options: ProviderOptions) -> None:
        self.options = options


def expected_hooks(plugin: ProviderPlugin) -> list[str]:
    hooks = {capability(cap).hook for d in plugin.providers for cap in d.factories}
    hooks.add("mastra_ee_provider_names")
    if plugin.routes:
        hooks.add("mastra_ee_routes")
    if plugin.fragments:
        hooks.add("mastra_ee_capabilities")
    return sorted(hooks)


def test_only_the_declared_hooks_exist() -> None:
    plugin = provider_plugin("all", Everything, capabilities=("user", "session", "sso"))
    registry = PluginRegistry()
    registry.register(plugin, "all")
    assert registry.plugins["all"].hooks == [
        "mastra_ee_provider_names",
        "mastra_ee_session_provider",
        "mastra_ee_sso_provider",
        "mastra_ee_user_provider",
    ]
    assert not hasattr(plugin, "mastra_ee_rbac_provider")
    assert registry.provider_names() == {
        "user": ["all"],
        "session": ["all"],
        "sso": ["all"],
        "credentials": [],
        "rbac": [],
        "acl": [],
        "audit": [],
        "audit_storage": [],
        "api_keys": [],
    }
    # other names are not this plugin's
    assert plugin.mastra_ee_user_provider(name="other", options={}) is None  # type: ignore[attr-defined]


def test_factory_runs_once_per_composition() -> None:
    Everything.created = 0
    plugin = provider_plugin("all", Everything, capabilities=("user", "session", "sso"))
    registry = PluginRegistry()
    registry.register(plugin, "all")
    settings = Settings(auth={"user": "all", "session": "all", "sso": "all", "options": {"all": {"k": "v"}}})
    auth = build_auth(settings, registry)
    assert auth.user is auth.session is auth.sso and Everything.created == 1
    assert auth.user.options["k"] == "v" and auth.user.options.settings is settings
    second = build_auth(settings, registry)
    assert second.user is not auth.user and Everything.created == 2


def test_override_builds_its_capability_and_can_share_the_main_object() -> None:
    def rbac(options: ProviderOptions) -> Any:
        if options.get("configured"):
            return options.shared(Everything)
        return StandAloneRBAC(options)

    plugin = provider_plugin(
        "cloudish", Everything, capabilities=("user", "session", "rbac"), overrides={"rbac": rbac}
    )
    registry = PluginRegistry()
    registry.register(plugin, "cloudish")
    shared = Settings(
        auth={
            "user": "cloudish",
            "session": "cloudish",
            "rbac": "cloudish",
            "options": {"cloudish": {"configured": 1}},
        }
    )
    auth = build_auth(shared, registry)
    assert auth.rbac is auth.user is auth.session
    alone = build_auth(Settings(auth={"rbac": "cloudish"}), registry)
    assert type(alone.rbac) is StandAloneRBAC and alone.user is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capabilities": ("user", "sessions")}, "capabilities must be some of user, session"),
        ({"capabilities": ()}, r"capabilities must be some of .* \(got none\)"),
        ({"capabilities": ("user", "user")}, "a capability is listed twice"),
        ({"capabilities": ("user",), "overrides": {"rbac": StandAloneRBAC}}, "undeclared capabilities: rbac"),
    ],
)
def test_declaration_mistakes_fail_at_import(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        provider_plugin("bad", Everything, **kwargs)


def test_combined_plugins_keep_each_name_and_refuse_duplicates() -> None:
    sessions = provider_plugin("mem", Everything, capabilities=("session",))
    storage = provider_plugin("mem", StandAloneRBAC, capabilities=("audit_storage",))
    combined = combine_plugins(sessions, storage)
    registry = PluginRegistry()
    registry.register(combined, "both")
    options = ProviderOptions({})
    assert type(registry.create_provider("session", "mem", options)) is Everything
    assert type(registry.create_provider("audit_storage", "mem", options)) is StandAloneRBAC
    with pytest.raises(ValueError, match="provider 'mem' declares session twice"):
        combine_plugins(sessions, sessions)


def test_routes_and_capabilities_fragment() -> None:
    async def endpoint(request: Any) -> None:
        return None

    route = PluginRoute("GET", "/auth/x", endpoint)
    plugin = provider_plugin(
        "x",
        Everything,
        capabilities=("user",),
        routes=(route,),
        capabilities_fragment=lambda context: {"x": {"user": context.user}},
    )
    registry = PluginRegistry()
    registry.register(plugin, "x")
    assert registry.routes() == [route]
    assert registry.capability_fragments(SimpleNamespace(user="u")) == [{"x": {"user": "u"}}]  # type: ignore[arg-type]
    assert registry.plugins["x"].hooks == expected_hooks(plugin)


def test_raising_factory_is_reported_like_a_hand_written_one() -> None:
    def broken(options: ProviderOptions) -> Any:
        raise ConfigurationError("x: option 'secret' is required")

    registry = PluginRegistry()
    registry.register(provider_plugin("x", broken, capabilities=("user",)), "x", distribution="dist-x")
    with pytest.raises(ConfigurationError) as info:
        registry.create_provider("user", "x", ProviderOptions({}))
    assert (
        str(info.value)
        == "Provider 'x' for user failed to initialise (dist-x): x: option 'secret' is required"
    )


def _declared_plugins() -> list[Any]:
    """The built-in plugin, the reference plugin, and every installed entry point that
    points at a helper-declared plugin (one that does not import is skipped, visibly)."""
    found = [pytest.param("core", builtin_plugin, id="core")]
    found.append(pytest.param("reference", reference_plugin(), id="reference"))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugin = ep.load()
        except Exception as exc:
            skip = pytest.mark.skip(reason=f"entry point {ep.name} does not import: {exc}")
            found.append(pytest.param(ep.name, None, id=ep.name, marks=skip))
            continue
        if isinstance(plugin, ProviderPlugin):
            found.append(pytest.param(ep.name, plugin, id=ep.name))
    return found


@pytest.mark.parametrize(("name", "plugin"), _declared_plugins())
def test_declared_plugins_hooks_equal_their_capabilities(name: str, plugin: ProviderPlugin) -> None:
    registry = PluginRegistry()
    registry.register(plugin, name)
    assert registry.plugins[name].status == "active"
    assert registry.plugins[name].hooks == expected_hooks(plugin)
    declared: dict[str, list[str]] = {}
    for declaration in plugin.providers:
        for cap in declaration.factories:
            declared.setdefault(cap, []).append(declaration.name)
    assert {cap: names for cap, names in registry.provider_names().items() if names} == {
        cap: sorted(names) for cap, names in declared.items()
    }


def test_builtin_plugin_declares_the_spec_names() -> None:
    assert builtin_plugin.mastra_ee_provider_names() == {
        "session": ["memory", "cookie"],
        "rbac": ["static"],
        "audit": ["console"],
        "audit_storage": ["memory", "sql"],
        "api_keys": ["sql"],
    }
