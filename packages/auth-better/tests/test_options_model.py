"""``[auth.options.better]`` through the provider factories (SPEC 10.2): one model
checks every key, TOML values and env text alike, and keeps SPEC's messages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mastra.auth.better import EmbeddedBetterAuth, RemoteBetterAuth
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings, load_settings

from .conftest import SECRET

DB = "sqlite+aiosqlite:///:memory:"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "BETTER_AUTH_SECRET",
        "BETTER_AUTH_URL",
        "MASTRA_AUTH_SECRET",
        "MASTRA_PUBLIC_URL",
        "MASTRA_ENV",
    ):
        monkeypatch.delenv(var, raising=False)


def embedded(options: dict[str, Any], **settings: Any) -> EmbeddedBetterAuth:
    return EmbeddedBetterAuth.from_options(ProviderOptions(options, Settings(database_url=DB, **settings)))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Unknown keys: silently ignored before (a typo left sign-up on).
        (
            {"secret": SECRET, "sign_up_enabeld": "false"},
            "better: unknown option 'sign_up_enabeld' (did you mean 'sign_up_enabled'?)",
        ),
        ({"secret": SECRET, "_settings": object()}, "better: unknown option '_settings'"),
        (
            {"secret": SECRET, "sign_up_enabled": "ture"},
            "better: option 'sign_up_enabled': Input should be a valid boolean",
        ),
        ({"secret": SECRET, "timeout": "-1"}, "better: option 'timeout': Input should be greater than 0"),
        ({"secret": SECRET, "timeout": "soon"}, "better: option 'timeout': Input should be a valid number"),
        # Accepted before: ``true`` was one second, ``1.5`` was truncated to one.
        ({"secret": SECRET, "session_max_lifetime": True}, "option 'session_max_lifetime': a boolean"),
        ({"secret": SECRET, "session_expires_in": "1.5"}, "option 'session_expires_in': Input should be"),
        (
            {"secret": SECRET, "mode": "sideways"},
            "better: option 'mode': Input should be 'embedded' or 'remote'",
        ),
        (
            {"secret": SECRET, "password_scheme": "md5"},
            "better: option 'password_scheme': Input should be 'better_scrypt' or 'argon2'",
        ),
        (
            {"secret": SECRET, "reset_sender": "no.such.module:send"},
            "better: option 'reset_sender': cannot import 'no.such.module:send'",
        ),
        (
            {"secret": "short"},
            "better: a secret of at least 32 characters is required "
            "(option secret, BETTER_AUTH_SECRET or MASTRA_AUTH_SECRET)",
        ),
        (
            {"secret": SECRET, "mode": "Remote"},
            "better: remote mode needs base_url (e.g. http://127.0.0.1:3005/api/auth)",
        ),
        (
            {"secret": SECRET, "mode": "remote", "base_url": "ftp://x"},
            "better: base_url must be an http(s) URL, not 'ftp://x'",
        ),
    ],
)
def test_invalid_options_are_refused_with_the_key_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        embedded(options)
    assert message in str(info.value)


def test_env_text_and_toml_values_give_the_same_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "mastra.toml"
    toml.write_text(
        "[auth.options.better]\n"
        f'secret = "{SECRET}"\nsign_up_enabled = false\ntimeout = 2.5\nsession_expires_in = 3600\n'
    )
    from_toml = load_settings(toml, database_url=DB)
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__BETTER__SECRET", SECRET)
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__BETTER__SIGN_UP_ENABLED", "false")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__BETTER__TIMEOUT", "2.5")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__BETTER__SESSION_EXPIRES_IN", "3600")
    from_env = Settings(database_url=DB, _env_file=None)  # type: ignore[call-arg]
    for settings in (from_toml, from_env):
        options = EmbeddedBetterAuth.from_options(
            ProviderOptions(settings.provider_options("better"), settings)
        ).options
        assert (options.sign_up_enabled, options.timeout, options.session_expires_in) == (False, 2.5, 3600)


def test_fallbacks_and_derived_values(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "y" * 40
    # option > BETTER_AUTH_SECRET > MASTRA_AUTH_SECRET (settings)
    assert embedded({"secret": SECRET}, auth_secret=other).options.secret == SECRET
    assert embedded({}, auth_secret=other).options.secret == other
    monkeypatch.setenv("BETTER_AUTH_SECRET", SECRET)
    assert embedded({}, auth_secret=other).options.secret == SECRET
    provider = embedded({"cookie_prefix": "", "timeout": None}, public_url="https://app.test")
    assert provider.options.cookie_prefix == "better-auth" and provider.options.timeout == 5.0  # unset
    assert provider.options.origin == "https://app.test" and provider.cookie.secure
    assert provider.options.database_url == DB and provider.options.is_dev

    monkeypatch.setenv("BETTER_AUTH_URL", "http://127.0.0.1:3005/api/auth/")
    remote = RemoteBetterAuth.from_options(ProviderOptions({"mode": "remote"}, Settings(database_url=DB)))
    assert remote.options.base_url == "http://127.0.0.1:3005/api/auth"


def test_reset_sender_is_a_callable_or_an_import_path() -> None:
    async def sender(email: str, url: str) -> None:
        return None

    assert embedded({"secret": SECRET, "reset_sender": sender}).options.reset_sender is sender
    imported = embedded({"secret": SECRET, "reset_sender": "asyncio:sleep"}).options.reset_sender
    assert imported is asyncio.sleep
