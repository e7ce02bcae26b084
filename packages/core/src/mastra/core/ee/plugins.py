"""Plugin discovery, provider selection and composition (SPEC 6.5).

One :class:`PluginRegistry` per process (and per test): it registers the core's
built-in plugin, loads each ``mastra_ee`` entry point and each
``MASTRA_EE_EXTRA_PLUGINS`` entry in its own ``try``, and turns a :class:`Settings`
into a composed :class:`MastraAuthProvider`.

Hooks are reached through pluggy (``pm.hook.<name>.get_hookimpls()``), never by
attribute name, so ``specname=`` works and a hookimpl without a hookspec (a
misspelled hook) is caught by ``pm.check_pending()``: that plugin is ``failed``, the
others keep working. Each implementation is called on its own rather than through
``pm.hook.<name>(...)``: pluggy's call stops at the first exception, and the host
must tell a raising plugin from a provider that answered (SPEC 6.5, step 2).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, PluginError, RefusedInProduction
from .hookspecs import CAPABILITY_NAMES, ENTRY_POINT_GROUP, PROJECT_NAME, capability
from .license import is_ee_enabled, is_license_valid, warn_dev_unlicensed_once
from .options import ProviderOptions
from .provider import MastraAuthProvider, with_ee
from .settings import Settings

if TYPE_CHECKING:
    from .capabilities import CapabilityContext
    from .routes import PluginRoute

__all__ = ["PluginInfo", "PluginRegistry", "build_auth", "effective_selection"]

logger = logging.getLogger("mastra.ee")

BUILTIN_PLUGIN = "core"
#: Distribution shown for plugins registered by hand or through MASTRA_EE_EXTRA_PLUGINS.
LOCAL_DISTRIBUTION = "(local)"


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


@dataclass(frozen=True, slots=True)
class _Call:
    """One implementation's answer: a value, or the exception it raised."""

    plugin: str
    value: Any = None
    error: Exception | None = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _import_object(spec: str) -> object:
    """``"package.module"`` (the module) or ``"package.module:attr"`` (an object in it)."""
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name.strip())
    return getattr(module, attr.strip()) if attr.strip() else module


class PluginRegistry:
    """A pluggy manager plus what was loaded, what failed and what was blocked."""

    def __init__(self, *, disabled: Iterable[str] = ()) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.disabled = {name.strip() for name in disabled if name.strip()}

    # -- registration -----------------------------------------------------------

    def register(
        self, plugin: object, name: str, *, distribution: str = LOCAL_DISTRIBUTION, version: str = ""
    ) -> None:
        """Register a plugin object (module or instance) under ``name``; tests use this directly.

        Like an entry point, a plugin that pluggy rejects or that implements a hook
        with no hookspec is recorded as ``failed`` instead of raising.
        """
        self._add(name, distribution, version, lambda: plugin)

    def register_builtin(self) -> None:
        from .defaults import plugin

        try:
            core_version = metadata.version("mastra-core")
        except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
            core_version = "0"
        self.register(plugin, BUILTIN_PLUGIN, distribution="mastra-core", version=core_version)

    def load_entry_points(self, eps: Iterable[EntryPoint] | None = None) -> None:
        """Load each entry point on its own: one broken plugin never stops the others."""
        for ep in eps if eps is not None else metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "(unknown)"
            ver = ep.dist.version if ep.dist is not None else ""
            self._add(ep.name, dist, ver, ep.load)

    def load_extra_plugins(self, specs: Iterable[str]) -> None:
        """Plugins that are not installed as entry points (``MASTRA_EE_EXTRA_PLUGINS``):
        ``package.module`` or ``package.module:attr``, each registered under that text."""
        for spec in filter(None, (s.strip() for s in specs)):
            self._add(spec, LOCAL_DISTRIBUTION, "", functools.partial(_import_object, spec))

    def _add(self, name: str, dist: str, ver: str, load: Callable[[], object]) -> None:
        if name in self.disabled:
            self.plugins[name] = PluginInfo(name, dist, ver, "blocked")
            return
        if name in self.plugins:
            self._mark_failed(name, dist, ver, f"plugin name '{name}' is already registered")
            return
        try:
            plugin = load()  # a blocked plugin is never imported
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._mark_failed(name, dist, ver, _describe(exc))
            return
        hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
        self.plugins[name] = PluginInfo(name, dist, ver, "active", hooks)
        self._reject_unknown_hooks()

    def _reject_unknown_hooks(self) -> None:
        """``pm.check_pending()``: a hookimpl matching no hookspec fails its plugin."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin)
                if name is None:  # pragma: no cover - pluggy only reports registered plugins
                    raise
                unknown = sorted(
                    caller.name
                    for caller in self.pm.get_hookcallers(exc.plugin) or []
                    if not caller.has_spec()
                )
                info = self.plugins[name]
                self._mark_failed(name, info.distribution, info.version, _unknown_hooks_error(unknown))

    def _mark_failed(self, name: str, dist: str, ver: str, error: str) -> None:
        logger.warning("Failed to load plugin '%s' from %s %s: %s", name, dist, ver, error)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        previous = self.plugins.get(name)
        hooks = previous.hooks if previous else []
        self.plugins[name] = PluginInfo(name, dist, ver, "failed", hooks, error)

    @classmethod
    def default(cls, settings: Settings | None = None, *, load_entry_points: bool = True) -> PluginRegistry:
        """The built-in plugin, the installed entry points and the settings' extra plugins."""
        registry = cls(disabled=settings.disabled_plugins if settings else ())
        registry.register_builtin()
        if load_entry_points:
            registry.load_entry_points()
        if settings is not None:
            registry.load_extra_plugins(settings.extra_plugins)
        return registry

    # -- queries -----------------------------------------------------------------

    def active(self) -> list[tuple[str, object]]:
        return [(name, plugin) for name, plugin in self.pm.list_name_plugin() if plugin is not None]

    def failed(self) -> list[PluginInfo]:
        return [info for info in self.plugins.values() if info.status == "failed"]

    def _call_each(self, hook: str, **kwargs: Any) -> list[_Call]:
        """Call every implementation of ``hook`` on its own, in registration order, with
        the arguments it declares (as pluggy would)."""
        calls: list[_Call] = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                value = impl.function(*(kwargs[arg] for arg in impl.argnames))
            except Exception as exc:
                calls.append(_Call(impl.plugin_name, error=exc))
            else:
                calls.append(_Call(impl.plugin_name, value))
        return calls

    def provider_names(self) -> dict[str, list[str]]:
        """Capability → the provider names some plugin offers for it."""
        names: dict[str, set[str]] = {cap: set() for cap in CAPABILITY_NAMES}
        for offered in self.provider_names_by_plugin().values():
            for cap, cap_names in offered.items():
                names.setdefault(cap, set()).update(cap_names)
        return {cap: sorted(cap_names) for cap, cap_names in names.items()}

    def provider_names_by_plugin(self) -> dict[str, dict[str, list[str]]]:
        """Plugin → capability → the provider names it offers (what ``plugins`` shows)."""
        offered: dict[str, dict[str, list[str]]] = {}
        for call in self._call_each("mastra_ee_provider_names"):
            if call.error is not None:
                logger.warning("plugin '%s' failed to list provider names: %s", call.plugin, call.error)
                continue
            offered[call.plugin] = {cap: sorted(names) for cap, names in (call.value or {}).items()}
        return offered

    # -- provider creation ----------------------------------------------------------

    def create_provider(self, capability_name: str, name: str, options: Mapping[str, Any]) -> Any:
        """Call every implementation of the capability hook; exactly one must answer."""
        cap = capability(capability_name)
        calls = self._call_each(cap.hook, name=name, options=options)
        answers = [call for call in calls if call.error is None and call.value is not None]
        errors = [(call.plugin, call.error) for call in calls if call.error is not None]
        if len(answers) > 1:
            dists = " and ".join(self.plugins[call.plugin].distribution for call in answers)
            raise PluginError(f"Provider name '{name}' for {cap.name} is claimed by {dists}")
        if answers:
            for plugin_name, error in errors:
                info = self.plugins[plugin_name]
                self._mark_failed(plugin_name, info.distribution, info.version, _describe(error))
            return answers[0].value
        if errors:
            plugin_name, first = errors[0]
            dist = self.plugins[plugin_name].distribution
            raise ConfigurationError(
                f"Provider '{name}' for {cap.name} failed to initialise ({dist}): {first}"
            ) from first
        known = self.provider_names().get(cap.name, [])
        message = f"Unknown provider '{name}' for {cap.env_name}. Available: {', '.join(known) or '(none)'}"
        if close := difflib.get_close_matches(name, known, n=1):
            message += f". Did you mean '{close[0]}'?"
        failed = self.failed()
        if failed:
            message += ". Failed plugins: " + ", ".join(f"{f.name} ({f.error})" for f in failed)
        raise ConfigurationError(message)

    def capability_fragments(self, context: CapabilityContext) -> list[dict[str, Any]]:
        fragments: list[dict[str, Any]] = []
        calls = self._call_each("mastra_ee_capabilities", context=context)
        for call in sorted(calls, key=lambda c: c.plugin):
            if call.error is not None:
                logger.warning("capabilities hook of plugin '%s' failed: %s", call.plugin, call.error)
            elif isinstance(call.value, dict):
                fragments.append(call.value)
        return fragments

    def routes(self) -> list[PluginRoute]:
        routes: list[PluginRoute] = []
        for call in self._call_each("mastra_ee_routes"):
            if call.error is not None:
                logger.warning("routes hook of plugin '%s' failed: %s", call.plugin, call.error)
            else:
                routes.extend(call.value or [])
        return routes


def _unknown_hooks_error(unknown: list[str]) -> str:
    known = [name for name in vars(hookspecs) if name.startswith("mastra_ee_")]
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        parts.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return f"unknown hook {', '.join(parts)}: no such hookspec in mastra.core.ee.hookspecs"


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
    if settings.is_production and not is_license_valid(settings):
        logger.warning(
            "[mastra-ee] No valid MASTRA_EE_LICENSE in production: static RBAC is off (auth-only mode)."
        )
        selection.pop("rbac", None)
    return selection, set()


#: ``MASTRA_AUTH__API_KEYS`` values that turn API keys off.
API_KEYS_OFF = frozenset({"off", "none", "false", "0"})


def _select_api_keys(settings: Settings, selection: dict[str, str]) -> None:
    """API keys default to the core's ``sql`` provider wherever users are authenticated
    and a server secret exists to derive their HMAC key from; ``off`` turns them off."""
    chosen = selection.get("api_keys")
    if chosen is not None and chosen.strip().lower() in API_KEYS_OFF:
        del selection["api_keys"]
    elif chosen is None and selection.get("user") and settings.secret:
        selection["api_keys"] = "sql"


def _check_user_provider(settings: Settings, selection: Mapping[str, str]) -> None:
    """Sign-in without a user provider: requests are never authenticated, so auth is off
    while the sign-in page suggests otherwise. Loud in development, refused in production."""
    name = selection.get("credentials")
    if not name or selection.get("user"):
        return
    message = (
        f"MASTRA_AUTH__CREDENTIALS={name} is set without a user provider, so authentication "
        f"is disabled: set MASTRA_AUTH__USER={name} (or the provider that owns the accounts)"
    )
    if settings.is_production:
        raise RefusedInProduction(message)
    logger.warning(message)


def build_auth(
    settings: Settings,
    registry: PluginRegistry | None = None,
    *,
    embedded_default: bool = True,
) -> MastraAuthProvider:
    """Select one provider per capability, compose them, bind, check the license.

    The license check reads ``settings`` (``ee_license``, ``env``, ``dev``); the
    process environment is never written.
    """
    registry = registry or PluginRegistry.default(settings)
    selection, explicit = effective_selection(settings, registry, embedded_default=embedded_default)
    _select_api_keys(settings, selection)

    providers: dict[str, Any] = {}
    # One options mapping per provider name: factories of several capabilities share
    # their instance through it (``ProviderOptions.shared``).
    options_by_name: dict[str, ProviderOptions] = {}
    for capability_name in CAPABILITY_NAMES:
        name = selection.get(capability_name)
        if not name:
            continue
        options = options_by_name.setdefault(name, ProviderOptions(settings.provider_options(name), settings))
        providers[capability_name] = registry.create_provider(capability_name, name, options)

    _check_user_provider(settings, selection)
    for capability_name in ("user", "sso"):
        provider = providers.get(capability_name)
        if provider is not None and getattr(provider, "owns_sessions", False):
            if providers.get("session") is not provider:
                name = selection[capability_name]
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
    # Request-time license checks (``is_feature_licensed``) read the same settings.
    auth.settings = settings
    auth.plugin_registry = registry

    gated = [cap for cap in ("rbac", "acl") if cap in explicit]
    if gated and not is_ee_enabled(settings) and not auth.is_mastra_cloud_auth:
        what = "RBAC and ACL are" if len(gated) == 2 else f"{gated[0].upper()} is"
        raise ConfigurationError(
            f"[mastra-ee] {what} configured but no valid EE license was found. "
            "Set MASTRA_EE_LICENSE (at least 32 characters), or remove the "
            "MASTRA_AUTH__RBAC / MASTRA_AUTH__ACL selection."
        )
    if any(getattr(auth, cap) is not None for cap in ("rbac", "acl", "audit_storage")):
        warn_dev_unlicensed_once(settings)

    mode = "licensed" if is_license_valid(settings) else ("dev" if is_ee_enabled(settings) else "unlicensed")
    summary = " ".join(f"{cap}={selection.get(cap, '-')}" for cap in CAPABILITY_NAMES)
    logger.info("auth: %s (%s)", summary, mode)
    return auth
