"""Plugin discovery, provider selection and composition (SPEC 6.5).

One :class:`PluginRegistry` per process (and per test): it registers the core's
built-in plugin, loads each ``mastra_ee`` entry point in its own ``try``, and turns
a :class:`Settings` into a composed :class:`MastraAuthProvider`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, PluginError
from .hookspecs import CAPABILITY_HOOKS, ENTRY_POINT_GROUP, PROJECT_NAME
from .license import is_ee_enabled, is_license_valid, warn_dev_unlicensed_once
from .options import ProviderOptions
from .provider import SLOTS, MastraAuthProvider, with_ee
from .routes import Route
from .settings import Settings

__all__ = ["PluginInfo", "PluginRegistry", "build_auth", "effective_selection", "export_license_env"]

logger = logging.getLogger("mastra.ee")

BUILTIN_PLUGIN = "core"


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    status: str  # "active" | "failed" | "blocked"
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "hooks": self.hooks,
        }
        if self.error is not None:
            data["error"] = self.error
        return data


class PluginRegistry:
    """A pluggy manager plus what was loaded, what failed and what was blocked."""

    def __init__(self, *, disabled: list[str] | tuple[str, ...] = ()) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.disabled = {name.strip() for name in disabled if name.strip()}
        self._objects: dict[str, object] = {}

    # -- registration -----------------------------------------------------------

    def register(
        self, plugin: object, name: str, *, distribution: str = "(local)", version: str = ""
    ) -> None:
        """Register a plugin object (module or instance) under ``name``; tests use this directly."""
        if name in self.disabled:
            self.plugins[name] = PluginInfo(name, distribution, version, "blocked")
            return
        self.pm.register(plugin, name=name)
        self._objects[name] = plugin
        hooks = sorted(
            hook.name for hook in self.pm.get_hookcallers(plugin) or [] if hook.name.startswith("mastra_ee_")
        )
        self.plugins[name] = PluginInfo(name, distribution, version, "active", hooks)

    def register_builtin(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from . import defaults

        try:
            core_version = version("mastra-core")
        except PackageNotFoundError:  # pragma: no cover - source checkout without install
            core_version = "0"
        self.register(defaults, BUILTIN_PLUGIN, distribution="mastra-core", version=core_version)

    def load_entry_points(self, eps: list[EntryPoint] | None = None) -> None:
        """Load each entry point on its own: one broken plugin never stops the others."""
        for ep in eps if eps is not None else list(entry_points(group=ENTRY_POINT_GROUP)):
            dist = ep.dist.name if ep.dist is not None else "(unknown)"
            ver = ep.dist.version if ep.dist is not None else ""
            if ep.name in self.disabled:
                self.plugins[ep.name] = PluginInfo(ep.name, dist, ver, "blocked")
                continue
            if ep.name in self.plugins:
                self._mark_failed(ep.name, dist, ver, f"plugin name '{ep.name}' is already registered")
                continue
            try:
                plugin = ep.load()
                self.register(plugin, ep.name, distribution=dist, version=ver)
            except Exception as exc:
                self._mark_failed(ep.name, dist, ver, f"{type(exc).__name__}: {exc}")

    def _mark_failed(self, name: str, dist: str, ver: str, error: str) -> None:
        logger.warning("Failed to load plugin '%s' from %s %s: %s", name, dist, ver, error)
        if name in self._objects:
            self.pm.unregister(self._objects.pop(name))
        previous = self.plugins.get(name)
        hooks = previous.hooks if previous else []
        self.plugins[name] = PluginInfo(name, dist, ver, "failed", hooks, error)

    @classmethod
    def default(cls, settings: Settings | None = None, *, load_entry_points: bool = True) -> PluginRegistry:
        registry = cls(disabled=(settings.disabled_plugins if settings else ()))
        registry.register_builtin()
        if load_entry_points:
            registry.load_entry_points()
        return registry

    # -- queries -----------------------------------------------------------------

    def active(self) -> list[tuple[str, object]]:
        return [(n, p) for n, p in self._objects.items() if self.plugins[n].status == "active"]

    def provider_names(self) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {cap: [] for cap in CAPABILITY_HOOKS}
        for plugin_name, plugin in self.active():
            impl = getattr(plugin, "mastra_ee_provider_names", None)
            if impl is None:
                continue
            try:
                owned = impl() or {}
            except Exception as exc:
                logger.warning("plugin '%s' failed to list provider names: %s", plugin_name, exc)
                continue
            for cap, cap_names in owned.items():
                names.setdefault(cap, []).extend(n for n in cap_names if n not in names[cap])
        return {cap: sorted(v) for cap, v in names.items()}

    def failed(self) -> list[PluginInfo]:
        return [info for info in self.plugins.values() if info.status == "failed"]

    # -- provider creation ----------------------------------------------------------

    def create_provider(self, capability: str, name: str, options: Mapping[str, Any]) -> Any:
        """Call every implementation of the capability hook; exactly one must answer."""
        hook_name = CAPABILITY_HOOKS[capability]
        results: list[tuple[str, Any]] = []
        errors: list[tuple[str, Exception]] = []
        for plugin_name, plugin in self.active():
            impl = getattr(plugin, hook_name, None)
            if impl is None:
                continue
            try:
                provider = impl(name=name, options=options)
            except Exception as exc:
                errors.append((plugin_name, exc))
                continue
            if provider is not None:
                results.append((plugin_name, provider))
        env_name = f"MASTRA_AUTH__{capability.upper()}"
        if len(results) > 1:
            dists = " and ".join(self.plugins[p].distribution for p, _ in results)
            raise PluginError(f"Provider name '{name}' for {capability} is claimed by {dists}")
        if results:
            for plugin_name, error in errors:
                info = self.plugins[plugin_name]
                self._mark_failed(
                    plugin_name, info.distribution, info.version, f"{type(error).__name__}: {error}"
                )
            return results[0][1]
        if errors:
            plugin_name, first = errors[0]
            dist = self.plugins[plugin_name].distribution
            raise ConfigurationError(
                f"Provider '{name}' for {capability} failed to initialise ({dist}): {first}"
            ) from first
        available = ", ".join(self.provider_names().get(capability, [])) or "(none)"
        message = f"Unknown provider '{name}' for {env_name}. Available: {available}"
        failed = self.failed()
        if failed:
            message += ". Failed plugins: " + ", ".join(f"{f.name} ({f.error})" for f in failed)
        raise ConfigurationError(message)

    def capability_fragments(self, context: Any) -> list[dict[str, Any]]:
        fragments: list[dict[str, Any]] = []
        for plugin_name, plugin in sorted(self.active(), key=lambda item: item[0]):
            impl = getattr(plugin, "mastra_ee_capabilities", None)
            if impl is None:
                continue
            try:
                fragment = impl(context=context)
            except Exception as exc:
                logger.warning("capabilities hook of plugin '%s' failed: %s", plugin_name, exc)
                continue
            if isinstance(fragment, dict):
                fragments.append(fragment)
        return fragments

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for plugin_name, plugin in self.active():
            impl = getattr(plugin, "mastra_ee_routes", None)
            if impl is None:
                continue
            try:
                routes.extend(impl() or [])
            except Exception as exc:
                logger.warning("routes hook of plugin '%s' failed: %s", plugin_name, exc)
        return routes


def effective_selection(
    settings: Settings, registry: PluginRegistry, *, embedded_default: bool = True
) -> tuple[dict[str, str], set[str]]:
    """The capability → provider name map, and which capabilities were explicit."""
    selection = settings.auth.selection()
    if selection or not embedded_default:
        return selection, set(selection)
    names = registry.provider_names()
    if "better" in names.get("user", []):
        selection = {
            "user": "better",
            "credentials": "better",
            "session": "cookie",
            "rbac": "static",
            "audit_storage": "sql",
        }
    else:
        logger.warning("No auth provider installed; authentication is disabled")
        selection = {"audit_storage": "sql"}
    if settings.is_production and not is_license_valid():
        logger.warning(
            "[mastra-ee] No valid MASTRA_EE_LICENSE in production: static RBAC is off (auth-only mode)."
        )
        selection.pop("rbac", None)
    return selection, set()


def export_license_env(settings: Settings) -> None:
    # The license module reads the environment (SPEC 5); a TOML-only value is exported.
    if settings.ee_license is not None and "MASTRA_EE_LICENSE" not in os.environ:
        os.environ["MASTRA_EE_LICENSE"] = settings.ee_license.get_secret_value()
    if settings.env and "MASTRA_ENV" not in os.environ:
        os.environ["MASTRA_ENV"] = settings.env
    if settings.dev is not None and "MASTRA_DEV" not in os.environ:
        os.environ["MASTRA_DEV"] = "true" if settings.dev else "false"


def build_auth(
    settings: Settings,
    registry: PluginRegistry | None = None,
    *,
    embedded_default: bool = True,
) -> MastraAuthProvider:
    """Select one provider per capability, compose them, bind, check the license."""
    export_license_env(settings)
    registry = registry or PluginRegistry.default(settings)
    selection, explicit = effective_selection(settings, registry, embedded_default=embedded_default)

    providers: dict[str, Any] = {}
    # One options mapping per provider name: factories of several capabilities share
    # their instance through it (``mastra.core.ee.options.shared_provider``).
    options_by_name: dict[str, ProviderOptions] = {}
    for capability in SLOTS:
        name = selection.get(capability)
        if not name:
            continue
        options = options_by_name.setdefault(name, ProviderOptions(settings.provider_options(name)))
        providers[capability] = registry.create_provider(capability, name, options)

    for capability in ("user", "sso"):
        provider = providers.get(capability)
        if provider is not None and getattr(provider, "owns_sessions", False):
            if providers.get("session") is not provider:
                name = selection[capability]
                raise ConfigurationError(
                    f"Provider '{name}' manages its own sessions; set MASTRA_AUTH__SESSION={name}"
                )

    # The Cloud license exemption follows the identity provider only (S29): a Cloud RBAC
    # provider beside another user provider must not license RBAC and audit for it.
    base = MastraAuthProvider(
        is_mastra_cloud_auth=any(
            getattr(providers.get(cap), "is_mastra_cloud_auth", False) for cap in ("user", "sso")
        )
    )
    auth = with_ee(base, **providers)

    gated = [cap for cap in ("rbac", "acl") if cap in explicit]
    if gated and not is_ee_enabled() and not auth.is_mastra_cloud_auth:
        what = "RBAC and ACL are" if len(gated) == 2 else f"{gated[0].upper()} is"
        raise ConfigurationError(
            f"[mastra-ee] {what} configured but no valid EE license was found. "
            "Set MASTRA_EE_LICENSE (at least 32 characters), or remove the "
            "MASTRA_AUTH__RBAC / MASTRA_AUTH__ACL selection."
        )
    if any(getattr(auth, cap) is not None for cap in ("rbac", "acl", "audit_storage")):
        warn_dev_unlicensed_once()

    mode = "licensed" if is_license_valid() else ("dev" if is_ee_enabled() else "unlicensed")
    summary = " ".join(f"{cap}={selection.get(cap, '-')}" for cap in SLOTS)
    logger.info("auth: %s (%s)", summary, mode)
    auth.plugin_registry = registry  # type: ignore[attr-defined]
    auth.selection = selection  # type: ignore[attr-defined]
    return auth
