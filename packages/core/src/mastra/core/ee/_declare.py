"""Declare a provider plugin in a few lines instead of writing its hooks (SPEC 6.4).

::

    plugin = provider_plugin(
        "workos",
        WorkOSAuthProvider.from_options,
        capabilities=("user", "session", "sso", "rbac", "audit"),
    )

builds the plugin object a hand-written module would be: one hookimpl per listed
capability, answering for ``"workos"`` only, plus ``mastra_ee_provider_names``, and
``mastra_ee_routes`` / ``mastra_ee_capabilities`` when ``routes`` /
``capabilities_fragment`` are given. Only those hooks exist on it, so
``mastra-ee plugins`` shows what the plugin really answers.

The factory runs once per composition: every capability of one provider name gets
the same object (``ProviderOptions.shared``), which is what the host's
``owns_sessions`` check and one client per provider need. A capability that must be
built differently names its own factory in ``overrides``; it can still reach the
shared object with ``options.shared(factory)``.

:func:`combine_plugins` puts several declarations in one plugin object, for a
distribution that registers several provider names under one plugin name (the
core's built-in providers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .hookspecs import CAPABILITIES, CAPABILITY_NAMES, hookimpl
from .options import ProviderOptions, as_provider_options

if TYPE_CHECKING:
    from .capabilities import CapabilityContext
    from .routes import PluginRoute

__all__ = ["ProviderDeclaration", "ProviderFactory", "ProviderPlugin", "combine_plugins", "provider_plugin"]

#: Builds a provider from its options (``MyProvider.from_options``).
ProviderFactory = Callable[[ProviderOptions], Any]
#: ``mastra_ee_capabilities``: a fragment for ``GET /auth/capabilities``, or ``None``.
CapabilitiesFragment = Callable[["CapabilityContext"], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class ProviderDeclaration:
    """One provider name and the factory of each capability it serves."""

    name: str
    factories: Mapping[str, ProviderFactory]


class ProviderPlugin:
    """A pluggy plugin object whose hookimpls are generated from declarations.

    Register it like any plugin (``registry.register(plugin, "name")``) or point an
    entry point at it (``workos = "mastra.auth.workos.plugin:plugin"``).
    """

    def __init__(
        self,
        providers: Sequence[ProviderDeclaration],
        *,
        routes: Sequence[PluginRoute] = (),
        fragments: Sequence[CapabilitiesFragment] = (),
    ) -> None:
        self.providers = tuple(providers)
        self.routes = tuple(routes)
        self.fragments = tuple(fragments)
        seen: set[tuple[str, str]] = set()
        for declaration in self.providers:
            for cap_name in declaration.factories:
                if (declaration.name, cap_name) in seen:
                    raise ValueError(f"provider '{declaration.name}' declares {cap_name} twice")
                seen.add((declaration.name, cap_name))
        # Hooks are instance attributes, one per served capability: pluggy registers
        # what ``dir(plugin)`` shows, so undeclared capabilities have no hook at all.
        for cap in CAPABILITIES:
            by_name = {d.name: d.factories[cap.name] for d in self.providers if cap.name in d.factories}
            if by_name:
                setattr(self, cap.hook, _factory_hook(cap.hook, by_name))
        if self.routes:
            self.mastra_ee_routes = _routes_hook(self.routes)
        if self.fragments:
            self.mastra_ee_capabilities = _capabilities_hook(self.fragments)

    @hookimpl
    def mastra_ee_provider_names(self) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for declaration in self.providers:
            for cap in declaration.factories:
                names.setdefault(cap, []).append(declaration.name)
        return names

    def __repr__(self) -> str:
        return f"<ProviderPlugin {', '.join(sorted({d.name for d in self.providers}))}>"


def provider_plugin(
    name: str,
    factory: ProviderFactory,
    *,
    capabilities: Iterable[str],
    overrides: Mapping[str, ProviderFactory] | None = None,
    routes: Sequence[PluginRoute] = (),
    capabilities_fragment: CapabilitiesFragment | None = None,
) -> ProviderPlugin:
    """A plugin serving provider ``name`` for ``capabilities`` with ``factory``.

    ``overrides`` maps a capability (one of ``capabilities``) to the factory used for
    it instead. ``routes`` are mounted under the API prefix; ``capabilities_fragment``
    is the ``mastra_ee_capabilities`` hook. Unknown or repeated capability names are a
    :class:`ValueError` at import time, not a surprise at startup.
    """
    wanted = list(capabilities)
    unknown = [cap for cap in wanted if cap not in CAPABILITY_NAMES]
    if unknown or not wanted:
        raise ValueError(
            f"provider '{name}': capabilities must be some of {', '.join(CAPABILITY_NAMES)} "
            f"(got {', '.join(map(repr, wanted)) or 'none'})"
        )
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"provider '{name}': a capability is listed twice in {wanted}")
    extra = sorted(set(overrides or {}) - set(wanted))
    if extra:
        raise ValueError(f"provider '{name}': overrides for undeclared capabilities: {', '.join(extra)}")
    factories = {cap: (overrides or {}).get(cap, factory) for cap in wanted}
    return ProviderPlugin(
        [ProviderDeclaration(name, factories)],
        routes=routes,
        fragments=[capabilities_fragment] if capabilities_fragment is not None else [],
    )


def combine_plugins(*plugins: ProviderPlugin) -> ProviderPlugin:
    """One plugin object holding every declaration, route and fragment of ``plugins``."""
    return ProviderPlugin(
        [d for p in plugins for d in p.providers],
        routes=[r for p in plugins for r in p.routes],
        fragments=[f for p in plugins for f in p.fragments],
    )


def _factory_hook(hook: str, factories: Mapping[str, ProviderFactory]) -> Callable[..., Any]:
    def create(name: str, options: Mapping[str, Any]) -> Any:
        factory = factories.get(name)
        if factory is None:
            return None
        # Keyed by the factory: one object per composition, whichever capability asks first.
        return as_provider_options(options).shared(factory)

    create.__name__ = create.__qualname__ = hook
    return hookimpl(create)


def _routes_hook(routes: Sequence[PluginRoute]) -> Callable[[], list[PluginRoute]]:
    def mastra_ee_routes() -> list[PluginRoute]:
        return list(routes)

    return hookimpl(mastra_ee_routes)


def _capabilities_hook(fragments: Sequence[CapabilitiesFragment]) -> Callable[..., dict[str, Any] | None]:
    def mastra_ee_capabilities(context: CapabilityContext) -> dict[str, Any] | None:
        if len(fragments) == 1:
            return fragments[0](context)
        from .capabilities import deep_merge_fragment

        merged: dict[str, Any] = {}
        for fragment in fragments:
            part = fragment(context)
            if part:
                deep_merge_fragment(merged, part)
        return merged or None

    return hookimpl(mastra_ee_capabilities)
