"""One options API (``OptionsModel`` + ``ProviderOptions.parse``) and the options of the
built-in providers: ``memory``/``cookie`` sessions, ``static`` RBAC, ``console``,
``memory`` and ``sql`` audit (SPEC 1.3, 8.1-8.6)."""

from __future__ import annotations

from operator import attrgetter
from typing import Any, ClassVar

import pytest
from mastra.core.ee.audit import ConsoleAuditLogger, MemoryAuditStorage, SQLAuditStorage
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import Fallbacks, ListOption, OptionsModel, ProviderOptions
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.sessions import CookieSessionProvider, MemorySessionProvider
from mastra.core.ee.settings import Settings
from pydantic import Field, PositiveInt

SECRET = "options-model-secret-0123456789abcdefghij"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Example(OptionsModel):
    provider_name = "example"
    fallbacks: ClassVar[Fallbacks] = {"url": ("EXAMPLE_URL", attrgetter("public_url"))}

    url: str | None = None
    size: PositiveInt = 3
    ratio: float = 0.5
    enabled: bool = False
    names: ListOption = Field(default_factory=list)


# -- the base model ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sise": 1}, "example: unknown option 'sise' (did you mean 'size'?)"),
        ({"zzz": 1}, "example: unknown option 'zzz' (known: enabled, names, ratio, size, url)"),
        ({"_settings": object()}, "example: unknown option '_settings'"),
        ({"enabled": "ture"}, "example: option 'enabled': Input should be a valid boolean"),
        ({"size": "-2"}, "example: option 'size': Input should be greater than 0"),
        ({"size": True}, "example: option 'size': a boolean is not a valid value here"),
        ({"ratio": "inf"}, "example: option 'ratio': Input should be a finite number"),
        ({"names": '["a", 1'}, "example: option 'names': not valid JSON"),
        (
            {"sise": 1, "enabled": "ture"},
            "option 'enabled': Input should be a valid boolean, unable to interpret input; unknown option",
        ),
    ],
)
def test_errors_name_the_key(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ProviderOptions(options, settings()).parse(Example)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"size": 7, "ratio": 0.25, "enabled": True, "names": ["a", "b"]},  # TOML
        {"size": "7", "ratio": "0.25", "enabled": "true", "names": "a, b"},  # env text
        {"size": "7", "ratio": "0.25", "enabled": "yes", "names": '["a", "b"]'},  # env JSON
    ],
)
def test_toml_values_and_env_text_parse_alike(options: dict[str, Any]) -> None:
    parsed = ProviderOptions(options, settings()).parse(Example)
    assert (parsed.size, parsed.ratio, parsed.enabled, parsed.names) == (7, 0.25, True, ["a", "b"])


def test_unset_values_take_fallbacks_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAMPLE_URL", raising=False)
    given = settings(public_url="https://app.test")
    assert ProviderOptions({"url": "https://x"}, given).parse(Example).url == "https://x"
    assert ProviderOptions({"url": "  ", "size": None}, given).parse(Example).url == "https://app.test"
    monkeypatch.setenv("EXAMPLE_URL", "https://env")
    parsed = ProviderOptions({"url": ""}, given).parse(Example)
    assert parsed.url == "https://env" and parsed.size == 3
    assert parsed.settings is given


def test_parse_is_done_once_per_model() -> None:
    options = ProviderOptions({"size": "4"}, settings())
    assert options.parse(Example) is options.parse(Example)


# -- sessions (8.1-8.3) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Ignored before: the idle timeout stayed at 30 minutes.
        ({"idle_timout": "600"}, "cookie: unknown option 'idle_timout' (did you mean 'idle_timeout'?)"),
        ({"absolute_timeout": "-1"}, "cookie: option 'absolute_timeout': Input should be greater than 0"),
        ({"idle_timeout": "1.5"}, "cookie: option 'idle_timeout': Input should be a valid integer"),
        ({"previous_secrets": '["a"'}, "cookie: option 'previous_secrets': not valid JSON"),
        ({"cookie_name": 5}, "cookie: option 'cookie_name': Input should be a valid string"),
    ],
)
def test_cookie_session_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CookieSessionProvider.from_options(ProviderOptions({"secret": SECRET, **options}, settings()))
    assert message in str(info.value)


def test_memory_session_options_from_env_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__MEMORY__IDLE_TIMEOUT", "600")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__MEMORY__COOKIE_NAME", "sid")
    given = settings()
    provider = MemorySessionProvider.from_options(ProviderOptions(given.provider_options("memory"), given))
    assert (provider.idle_timeout, provider.cookie.name) == (600, "sid")


async def test_one_memory_table_configures_the_session_and_the_audit_storage() -> None:
    """``memory`` names a session provider and an audit storage: the host hands both the
    same ``[auth.options.memory]``, so a key of either is valid for both."""
    given = settings(
        auth_secret=SECRET,
        auth={
            "session": "memory",
            "audit_storage": "memory",
            "options": {"memory": {"idle_timeout": "600", "max_events": "5"}},
        },
    )
    auth = build_auth(given, PluginRegistry.default(given, load_entry_points=False))
    assert isinstance(auth.session, MemorySessionProvider) and auth.session.idle_timeout == 600
    assert isinstance(auth.audit_storage, MemoryAuditStorage) and auth.audit_storage.max_events == 5
    typo = ProviderOptions({"max_event": "5"}, given)
    with pytest.raises(
        ConfigurationError, match=r"memory: unknown option 'max_event' \(did you mean 'max_events'"
    ):
        MemoryAuditStorage.from_options(typo)
    with pytest.raises(ConfigurationError, match="registry 'sql' is not supported"):
        MemorySessionProvider.from_options(ProviderOptions({"registry": "SQL"}, given))


# -- audit (8.5, 8.6) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Ignored before: events were kept forever.
        ({"retention_day": "30"}, "sql: unknown option 'retention_day' (did you mean 'retention_days'?)"),
        ({"buffered": "ture"}, "sql: option 'buffered': Input should be a valid boolean"),
        ({"batch_size": "0"}, "sql: option 'batch_size': Input should be greater than 0"),
        (
            {"retention_days": "-1"},
            "sql: option 'retention_days': Input should be greater than or equal to 0",
        ),
        # Truncated to 250 before.
        ({"checkpoint_events": "250.5"}, "sql: option 'checkpoint_events': Input should be a valid integer"),
    ],
)
def test_sql_audit_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SQLAuditStorage.from_options(
            ProviderOptions(options, settings(database_url="sqlite+aiosqlite:///x.db"))
        )
    assert message in str(info.value)


def test_sql_audit_options_from_env_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__SQL__BUFFERED", "true")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__SQL__BATCH_SIZE", "50")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__SQL__RETENTION_DAYS", "7.5")
    given = settings(database_url="sqlite+aiosqlite:///x.db")
    storage = SQLAuditStorage.from_options(ProviderOptions(given.provider_options("sql"), given))
    assert storage.writer is not None and storage.writer.batch_size == 50
    assert storage.retention.retention_days == 7.5 and storage.database_url == given.database_url


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Ignored before: every action was logged.
        ({"action": "auth.*"}, "console: unknown option 'action' (did you mean 'actions'?)"),
        ({"json": "ture"}, "console: option 'json': Input should be a valid boolean"),
        ({"jsn": "true"}, "console: unknown option 'jsn' (did you mean 'json'?)"),
    ],
)
def test_console_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ConsoleAuditLogger.from_options(ProviderOptions(options, settings()))
    assert message in str(info.value)
