"""SPEC 6.4–6.5: plugin loading, blocking, provider selection errors, raising factories
and the owns_sessions rule. Entry points are real ``importlib.metadata.EntryPoint``
objects from a throwaway ``.dist-info`` pointing at modules written to a temp dir."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import uuid
from importlib.metadata import EntryPoint, PathDistribution
from pathlib import Path
from typing import Any

import pytest
from mastra.core.ee import ConfigurationError, PluginError, PluginRegistry, Settings, build_auth, hookimpl
from mastra.core.ee.routes import PluginRoute

GOOD_PLUGIN = """
from mastra.core.ee import hookimpl

class Sessions:
    owns_sessions = False

@hookimpl
def mastra_ee_provider_names():
    return {"session": ["goodsess"]}

@hookimpl
def mastra_ee_session_provider(name, options):
    return Sessions() if name == "goodsess" else None
"""


class DistFactory:
    """Writes plugin modules and a ``.dist-info`` per distribution; cleans up after."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.src = root / "src"
        self.src.mkdir()
        monkeypatch.syspath_prepend(str(self.src))
        self.modules: list[str] = []

    def __call__(self, dist: str, version: str, plugins: dict[str, str]) -> list[EntryPoint]:
        meta = self.root / "meta" / f"{dist}-{version}.dist-info"
        meta.mkdir(parents=True)
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = ["[mastra_ee]"]
        for ep_name, source in plugins.items():
            target = source if ":" in source and "\n" not in source else None
            if target is None:
                module = f"mastra_test_plugin_{uuid.uuid4().hex[:10]}"
                (self.src / f"{module}.py").write_text(textwrap.dedent(source))
                self.modules.append(module)
                target = module
            lines.append(f"{ep_name} = {target}")
        (meta / "entry_points.txt").write_text("\n".join(lines) + "\n")
        return list(PathDistribution(meta).entry_points)

    def cleanup(self) -> None:
        for module in self.modules:
            sys.modules.pop(module, None)


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    factory = DistFactory(tmp_path, monkeypatch)
    yield factory
    factory.cleanup()


def test_broken_entry_point_is_failed_and_others_load(
    make_dist: Any, caplog: pytest.LogCaptureFixture
) -> None:
    eps = make_dist("dist-broken", "1.0", {"broken": "raise RuntimeError('kaboom')\n"})
    eps += make_dist("dist-missing", "2.0", {"missing": "no_such_module_xyz_123:plugin"})
    eps += make_dist("dist-good", "3.1", {"good": GOOD_PLUGIN})
    registry = PluginRegistry()
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        registry.load_entry_points(eps)
    assert registry.plugins["broken"].status == "failed"
    assert registry.plugins["broken"].error == "RuntimeError: kaboom"
    assert registry.plugins["missing"].status == "failed"
    assert "ModuleNotFoundError" in (registry.plugins["missing"].error or "")
    good = registry.plugins["good"]
    assert (good.status, good.distribution, good.version) == ("active", "dist-good", "3.1")
    assert good.hooks == ["mastra_ee_provider_names", "mastra_ee_session_provider"]
    assert "Failed to load plugin 'broken' from dist-broken 1.0: RuntimeError: kaboom" in caplog.text
    assert registry.create_provider("session", "goodsess", {}).__class__.__name__ == "Sessions"
    assert registry.plugins["broken"].to_json() == {
        "name": "broken",
        "distribution": "dist-broken",
        "version": "1.0",
        "status": "failed",
        "hooks": [],
        "error": "RuntimeError: kaboom",
    }


def test_disabled_plugins_are_blocked(make_dist: Any) -> None:
    eps = make_dist("dist-good", "1.0", {"good": GOOD_PLUGIN})
    registry = PluginRegistry(disabled=["good", " "])
    registry.load_entry_points(eps)
    assert registry.plugins["good"].status == "blocked"
    with pytest.raises(ConfigurationError, match="Unknown provider 'goodsess'"):
        registry.create_provider("session", "goodsess", {})


def test_disabled_builtin_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_EE_DISABLED_PLUGINS", "core,other")
    registry = PluginRegistry.default(Settings(), load_entry_points=False)
    assert registry.plugins["core"].status == "blocked"
    with pytest.raises(
        ConfigurationError, match=r"Unknown provider 'static' for MASTRA_AUTH__RBAC\. Available: \(none\)"
    ):
        registry.create_provider("rbac", "static", {})


def test_duplicate_plugin_name_fails_second(make_dist: Any) -> None:
    eps = make_dist("dist-a", "1", {"same": GOOD_PLUGIN}) + make_dist("dist-b", "1", {"same": GOOD_PLUGIN})
    registry = PluginRegistry()
    registry.load_entry_points(eps)
    info = registry.plugins["same"]
    assert info.status == "failed" and "already registered" in (info.error or "")
    assert registry.active() == []


class Claimer:
    def __init__(self, provider: Any = None, error: Exception | None = None, names: Any = None) -> None:
        self.provider, self.error, self.names, self.calls = provider, error, names, 0

    @hookimpl
    def mastra_ee_provider_names(self) -> Any:
        if isinstance(self.names, Exception):
            raise self.names
        return self.names or {}

    @hookimpl
    def mastra_ee_rbac_provider(self, name: str, options: Any) -> Any:
        self.calls += 1
        if name != "dup":
            return None
        if self.error is not None:
            raise self.error
        return self.provider


def test_two_plugins_claiming_one_name() -> None:
    registry = PluginRegistry()
    registry.register(Claimer(object()), "a", distribution="dist-a")
    registry.register(Claimer(object()), "b", distribution="dist-b")
    with pytest.raises(PluginError) as info:
        registry.create_provider("rbac", "dup", {})
    assert str(info.value) == "Provider name 'dup' for rbac is claimed by dist-a and dist-b"


def test_unknown_name_lists_available_and_failed(make_dist: Any) -> None:
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(Claimer(names={"session": ["zeta", "alpha"]}), "x", distribution="dist-x")
    registry.load_entry_points(make_dist("dist-broken", "1.0", {"broken": "raise RuntimeError('kaboom')\n"}))
    with pytest.raises(ConfigurationError) as info:
        registry.create_provider("session", "nope", {})
    assert str(info.value) == (
        "Unknown provider 'nope' for MASTRA_AUTH__SESSION. Available: alpha, cookie, memory, zeta. "
        "Failed plugins: broken (RuntimeError: kaboom)"
    )


def test_provider_names_hook_failure_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(Claimer(names=RuntimeError("nope")), "x")
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        names = registry.provider_names()
    assert names["rbac"] == ["static"] and names["audit_storage"] == ["memory", "sql"]
    assert "plugin 'x' failed to list provider names: nope" in caplog.text


def test_raising_factory_with_another_provider_warns_and_marks_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = PluginRegistry()
    good = object()
    registry.register(Claimer(good), "good", distribution="dist-good")
    registry.register(
        Claimer(error=ValueError("bad option")), "raiser", distribution="dist-raiser", version="0.1"
    )
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        assert registry.create_provider("rbac", "dup", {}) is good
    assert registry.plugins["raiser"].status == "failed"
    assert "dist-raiser" in caplog.text and "bad option" in caplog.text
    assert [name for name, _ in registry.active()] == ["good"]


def test_raising_factory_alone_is_a_startup_error() -> None:
    registry = PluginRegistry()
    registry.register(Claimer(error=ValueError("bad option")), "raiser", distribution="dist-raiser")
    with pytest.raises(ConfigurationError) as info:
        registry.create_provider("rbac", "dup", {})
    assert str(info.value) == "Provider 'dup' for rbac failed to initialise (dist-raiser): bad option"
    assert isinstance(info.value.__cause__, ValueError)


def test_factory_returning_none_everywhere_is_unknown() -> None:
    registry = PluginRegistry()
    claimer = Claimer(None)
    registry.register(claimer, "a")
    with pytest.raises(ConfigurationError, match="Unknown provider 'dup' for MASTRA_AUTH__RBAC"):
        registry.create_provider("rbac", "dup", {})
    assert claimer.calls == 1


# -- owns_sessions and composition ---------------------------------------------------------------


class OwnSessions:
    owns_sessions = True

    async def get_current_user(self, request: Any) -> None:
        return None

    async def get_user(self, user_id: str) -> None:
        return None


class SessionAndUserPlugin:
    """One instance per name for every capability (the agreed plugin convention)."""

    def __init__(self) -> None:
        self.own = OwnSessions()
        self.other = object()
        self.seen_options: list[Any] = []

    @hookimpl
    def mastra_ee_user_provider(self, name: str, options: Any) -> Any:
        self.seen_options.append(options)
        return self.own if name == "own" else None

    @hookimpl
    def mastra_ee_sso_provider(self, name: str, options: Any) -> Any:
        return self.own if name == "own" else None

    @hookimpl
    def mastra_ee_session_provider(self, name: str, options: Any) -> Any:
        if name == "own":
            return self.own
        return self.other if name == "other" else None


@pytest.fixture
def own_registry() -> tuple[PluginRegistry, SessionAndUserPlugin]:
    registry = PluginRegistry()
    plugin = SessionAndUserPlugin()
    registry.register(plugin, "own-plugin", distribution="dist-own")
    return registry, plugin


@pytest.mark.parametrize("slot", ["user", "sso"])
def test_owns_sessions_requires_matching_session(own_registry: Any, slot: str) -> None:
    registry, _ = own_registry
    with pytest.raises(ConfigurationError) as info:
        build_auth(Settings(auth={slot: "own", "session": "other"}), registry)
    assert str(info.value) == "Provider 'own' manages its own sessions; set MASTRA_AUTH__SESSION=own"
    with pytest.raises(ConfigurationError, match="set MASTRA_AUTH__SESSION=own"):
        build_auth(Settings(auth={slot: "own"}), registry)


def test_owns_sessions_satisfied_composes_one_instance(own_registry: Any) -> None:
    registry, plugin = own_registry
    settings = Settings(
        auth={"user": "own", "sso": "own", "session": "own", "options": {"own": {"API_KEY": "k"}}}
    )
    auth = build_auth(settings, registry)
    assert auth.user is auth.session is auth.sso is plugin.own
    options = plugin.seen_options[-1]
    assert options["api_key"] == "k" and options.settings is settings
    with pytest.raises(TypeError):
        options["api_key"] = "changed"  # read-only mapping
    assert auth.plugin_registry is registry  # type: ignore[attr-defined]


def test_routes_hook_failure_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    async def endpoint(request: Any) -> None:
        return None

    class Good:
        @hookimpl
        def mastra_ee_routes(self) -> list[PluginRoute]:
            return [PluginRoute("GET", "/x", endpoint)]

    class Bad:
        @hookimpl
        def mastra_ee_routes(self) -> list[PluginRoute]:
            raise RuntimeError("no routes today")

    registry = PluginRegistry()
    registry.register(Good(), "good")
    registry.register(Bad(), "bad")
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        routes = registry.routes()
    assert [(r.method, r.path) for r in routes] == [("GET", "/x")]
    assert "routes hook of plugin 'bad' failed: no routes today" in caplog.text


# -- hooks through pluggy: check_pending and specname ----------------------------------------

MISSPELLED_PLUGIN = """
from mastra.core.ee import hookimpl

@hookimpl
def mastra_ee_provider_names():
    return {"sso": ["typo"]}

@hookimpl
def mastra_ee_sso_providers(name, options):
    return object() if name == "typo" else None
"""


def test_misspelled_hook_fails_only_that_plugin(make_dist: Any, caplog: pytest.LogCaptureFixture) -> None:
    eps = make_dist("dist-typo", "0.3", {"typo": MISSPELLED_PLUGIN})
    eps += make_dist("dist-good", "1.0", {"good": GOOD_PLUGIN})
    registry = PluginRegistry()
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        registry.load_entry_points(eps)
    typo = registry.plugins["typo"]
    assert typo.status == "failed"
    assert typo.error == (
        "unknown hook 'mastra_ee_sso_providers' (did you mean 'mastra_ee_sso_provider'?): "
        "no such hookspec in mastra.core.ee.hookspecs"
    )
    assert "mastra_ee_sso_providers" in typo.hooks  # shown, so the typo is visible
    assert "Failed to load plugin 'typo' from dist-typo 0.3: unknown hook" in caplog.text
    assert registry.plugins["good"].status == "active"
    assert [name for name, _ in registry.active()] == ["good"]
    # its other hooks are gone with it: the name it listed is not offered
    assert registry.provider_names()["sso"] == []
    assert registry.create_provider("session", "goodsess", {}).__class__.__name__ == "Sessions"


def test_registering_a_plugin_with_an_unknown_hook_marks_it_failed() -> None:
    class Typo:
        @hookimpl
        def mastra_ee_route(self) -> list[Any]:
            return []

    registry = PluginRegistry()
    registry.register(Typo(), "typo")
    assert registry.plugins["typo"].status == "failed"
    assert "did you mean 'mastra_ee_routes'" in (registry.plugins["typo"].error or "")
    assert registry.active() == []


def test_specname_hookimpl_answers_for_its_spec() -> None:
    made = object()

    class Named:
        @hookimpl(specname="mastra_ee_user_provider")
        def make_user(self, name: str, options: Any) -> Any:
            return made if name == "named" else None

    registry = PluginRegistry()
    registry.register(Named(), "named")
    assert registry.plugins["named"].hooks == ["mastra_ee_user_provider"]
    assert registry.create_provider("user", "named", {}) is made


def test_hookimpl_may_take_fewer_arguments_than_the_spec() -> None:
    class NameOnly:
        @hookimpl
        def mastra_ee_acl_provider(self, name: str) -> Any:
            return "acl" if name == "mine" else None

    registry = PluginRegistry()
    registry.register(NameOnly(), "name-only")
    assert registry.create_provider("acl", "mine", {}) == "acl"


def test_hookimpl_with_an_argument_the_spec_lacks_is_a_load_error() -> None:
    class Extra:
        @hookimpl
        def mastra_ee_acl_provider(self, name: str, options: Any, request: Any) -> Any:
            return None

    registry = PluginRegistry()
    registry.register(Extra(), "extra")
    info = registry.plugins["extra"]
    assert info.status == "failed" and "PluginValidationError" in (info.error or "")
    assert "request" in (info.error or "")


# -- MASTRA_EE_EXTRA_PLUGINS for every entry point ------------------------------------------------

EXTRA_MODULE = """
from mastra.core.ee import provider_plugin

class Logger:
    def __init__(self, options):
        self.options = options

    async def log(self, event):
        return None

plugin = provider_plugin("extra-log", Logger, capabilities=("audit",))
"""


@pytest.fixture
def extra_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Writes a module on ``sys.path``; returns its name."""
    written: list[str] = []

    def write(source: str) -> str:
        module = f"mastra_extra_plugin_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        written.append(module)
        return module

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for module in written:
        sys.modules.pop(module, None)


@pytest.mark.parametrize("form", ["comma", "json"])
def test_extra_plugins_setting_loads_each_on_its_own(
    extra_module: Any, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    good = extra_module(EXTRA_MODULE) + ":plugin"
    typo = extra_module(MISSPELLED_PLUGIN)
    specs = [good, "no_such_module_xyz_123", typo, f"{good.partition(':')[0]}:missing"]
    value = ", ".join(specs) if form == "comma" else json.dumps(specs)
    monkeypatch.setenv("MASTRA_EE_EXTRA_PLUGINS", value)
    settings = Settings()
    assert settings.extra_plugins == specs
    registry = PluginRegistry.default(settings, load_entry_points=False)
    assert [(n, i.status) for n, i in registry.plugins.items()] == [
        ("core", "active"),
        (specs[0], "active"),
        (specs[1], "failed"),
        (specs[2], "failed"),
        (specs[3], "failed"),
    ]
    assert registry.plugins[specs[0]].distribution == "(local)"
    assert "ModuleNotFoundError" in (registry.plugins[specs[1]].error or "")
    assert "unknown hook 'mastra_ee_sso_providers'" in (registry.plugins[specs[2]].error or "")
    assert "AttributeError" in (registry.plugins[specs[3]].error or "")
    assert registry.create_provider("audit", "extra-log", {}).__class__.__name__ == "Logger"


def test_extra_plugin_can_be_disabled_by_its_text(extra_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A blocked plugin is never imported: this one would raise on import.
    module = extra_module("raise RuntimeError('imported anyway')\n")
    monkeypatch.setenv("MASTRA_EE_EXTRA_PLUGINS", module)
    monkeypatch.setenv("MASTRA_EE_DISABLED_PLUGINS", module)
    registry = PluginRegistry.default(Settings(), load_entry_points=False)
    assert registry.plugins[module].status == "blocked"
    assert module not in sys.modules


def test_extra_plugins_reach_create_app(extra_module: Any, tmp_path: Path) -> None:
    """``mount_ee``/``create_app`` build their registry with ``PluginRegistry.default``."""
    from mastra.core.server import create_app

    spec = extra_module(EXTRA_MODULE) + ":plugin"
    settings = Settings(
        extra_plugins=[spec],
        auth={"audit": "extra-log"},
        auth_secret="e" * 40,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    )
    app = create_app(settings)
    assert app.state.mastra_ee.auth.audit.__class__.__name__ == "Logger"


def test_plugins_command_shows_extra_and_misspelled_plugins(
    extra_module: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mastra.core.cli import main

    good = extra_module(EXTRA_MODULE) + ":plugin"
    typo = extra_module(MISSPELLED_PLUGIN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_EE_EXTRA_PLUGINS", f"{good},{typo}")
    assert main(["plugins", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[good]["status"] == "active" and rows[good]["hooks"] == [
        "mastra_ee_audit_logger",
        "mastra_ee_provider_names",
    ]
    assert rows[typo]["status"] == "failed"
    assert "unknown hook 'mastra_ee_sso_providers'" in rows[typo]["error"]
    assert main(["plugins"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(typo))
    assert "failed" in line and "did you mean 'mastra_ee_sso_provider'" in line


# -- the license check reads settings; build_auth never writes the environment -----------------


def test_build_auth_leaves_the_environment_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    from mastra.core.ee.license import is_feature_licensed

    before = dict(os.environ)
    licensed = "L" * 40
    settings = Settings(ee_license=licensed, env="production", dev=False, auth={"rbac": "static"})
    registry = PluginRegistry.default(settings, load_entry_points=False)
    auth = build_auth(settings, registry)  # production + explicit RBAC: needs the license
    assert dict(os.environ) == before
    assert "MASTRA_EE_LICENSE" not in os.environ and "MASTRA_ENV" not in os.environ
    # Request-time checks see the same settings through the composed provider.
    assert auth.settings is settings and is_feature_licensed(auth, "rbac") is True
    unlicensed = Settings(env="production", dev=False)
    assert is_feature_licensed(build_auth(unlicensed, registry), "rbac") is False
    with pytest.raises(ConfigurationError, match="RBAC is configured but no valid EE license"):
        build_auth(unlicensed.model_copy(update={"auth": settings.auth}), registry)
