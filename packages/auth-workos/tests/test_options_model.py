"""``[auth.options.workos]`` through ``WorkOSAuthProvider.from_options`` (SPEC 10.1):
one model checks every key, TOML values and env text alike, keeping SPEC's messages."""

from __future__ import annotations

from typing import Any

import pytest
from mastra.auth.workos import WorkOSAuthProvider
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings

BASE = {"api_key": "sk_test", "client_id": "client_test", "cookie_password": "p" * 40}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_COOKIE_PASSWORD", "WORKOS_REDIRECT_URI"):
        monkeypatch.delenv(var, raising=False)


def build(options: dict[str, Any], settings: Settings | None = None) -> WorkOSAuthProvider:
    settings = settings or Settings(public_url="http://127.0.0.1:4111", _env_file=None)  # type: ignore[call-arg]
    return WorkOSAuthProvider.from_options(ProviderOptions(options, settings))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Ignored before: memberships silently stayed off.
        (
            {**BASE, "fetch_membership": True},
            "workos: unknown option 'fetch_membership' (did you mean 'fetch_memberships'?)",
        ),
        # Read as false before.
        (
            {**BASE, "fetch_memberships": "ture"},
            "workos: option 'fetch_memberships': Input should be a valid boolean",
        ),
        (
            {**BASE, "honor_token_permissions": "ture"},
            "option 'honor_token_permissions': Input should be a valid boolean",
        ),
        # Accepted before: -1 retries went to the SDK, 0 s fell back to 10 s without a word.
        (
            {**BASE, "max_retries": "-1"},
            "workos: option 'max_retries': Input should be greater than or equal to 0",
        ),
        (
            {**BASE, "request_timeout": "0"},
            "workos: option 'request_timeout': Input should be greater than 0",
        ),
        # A ValueError from int() before, not a configuration error.
        (
            {**BASE, "absolute_timeout": "12h"},
            "workos: option 'absolute_timeout': Input should be a valid integer",
        ),
        ({**BASE, "role_mapping": "{admin}"}, "workos: option 'role_mapping': not valid JSON"),
        ({**BASE, "provider": "Evil"}, "WorkOS provider must be one of GoogleOAuth, MicrosoftOAuth"),
        ({"client_id": "c"}, "WorkOS API key and client ID are required"),
        ({**BASE, "cookie_password": "short"}, "WorkOS cookie password must be at least 32 characters"),
    ],
)
def test_invalid_options_are_refused_with_the_key_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        build(options)
    assert message in str(info.value)


def test_production_needs_a_cookie_password() -> None:
    prod = Settings(env="production", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match=r"^WorkOS cookie_password .* is required in production$"):
        build({"api_key": "k", "client_id": "c"}, prod)


def test_env_text_is_read_like_toml_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__API_KEY", "sk_env")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__CLIENT_ID", "client_env")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__COOKIE_PASSWORD", "e" * 40)
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__MAX_RETRIES", "3")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__FETCH_MEMBERSHIPS", "yes")
    monkeypatch.setenv(
        "MASTRA_AUTH__OPTIONS__WORKOS__ROLE_MAPPING",
        '{"admin": ["*"], "member": "agents:read,agents:execute"}',
    )
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    options = build(settings.provider_options("workos"), settings).options
    assert (options.max_retries, options.fetch_memberships) == (3, True)
    assert options.role_mapping == {"admin": ["*"], "member": ["agents:read", "agents:execute"]}
    toml = build(
        {**BASE, "max_retries": 3, "fetch_memberships": True, "role_mapping": {"admin": ["*"]}}
    ).options
    assert (toml.max_retries, toml.fetch_memberships, toml.role_mapping) == (3, True, {"admin": ["*"]})


def test_env_fallbacks_apply_to_unset_and_blank_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKOS_API_KEY", "sk_env")
    monkeypatch.setenv("WORKOS_REDIRECT_URI", "https://app.example/cb")
    options = build({**BASE, "api_key": ""}).options
    assert options.api_key == "sk_env" and options.redirect_uri == "https://app.example/cb"
    monkeypatch.delenv("WORKOS_REDIRECT_URI")
    assert build(BASE).options.redirect_uri == "http://127.0.0.1:4111/api/auth/sso/callback"
