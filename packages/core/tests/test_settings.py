"""Configuration sources and precedence (SPEC 1.3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./mastra.toml


def test_defaults() -> None:
    s = Settings()
    assert s.database_url == "sqlite+aiosqlite:///./.mastra/mastra.db"
    assert s.api_prefix == "/api" and s.studio_base_path == "/"
    assert s.auth.rate_limit.ip == "10/60" and s.auth.rate_limit.account == "5/300"
    assert s.auth.selection() == {}
    assert s.is_dev and not s.is_production and s.query_token_enabled


def test_env_nested_options_are_lower_snake_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_AUTH__USER", "workos")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__API_KEY", "sk_1")
    monkeypatch.setenv("MASTRA_EE_DISABLED_PLUGINS", "a, b")
    monkeypatch.setenv("MASTRA_TRUSTED_ORIGINS", '["https://a.example","https://b.example"]')
    s = Settings()
    assert s.auth.selection() == {"user": "workos"}
    assert s.auth.options == {"workos": {"api_key": "sk_1"}}
    assert s.disabled_plugins == ["a", "b"]
    assert s.trusted_origins == ["https://a.example", "https://b.example"]
    opts = s.provider_options("WORKOS")
    assert opts == {"api_key": "sk_1"}  # the settings travel on ProviderOptions, not as a key


def test_precedence_arguments_over_env_over_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(
        'api_prefix = "/from-toml"\nenv = "production"\n[auth]\nsso = "oidc"\n'
        '[auth.options.oidc]\nissuer = "https://idp"\nclient_id = "toml"\n'
    )
    monkeypatch.setenv("MASTRA_API_PREFIX", "/from-env")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__OIDC__CLIENT_ID", "env")
    s = load_settings(config)
    assert s.api_prefix == "/from-env"
    assert s.auth.sso == "oidc" and s.is_production and not s.query_token_enabled
    # env and TOML options merge key by key
    assert s.auth.options["oidc"] == {"issuer": "https://idp", "client_id": "env"}
    assert load_settings(config, api_prefix="/arg").api_prefix == "/arg"


def test_dev_flag_wins_over_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_ENV", "prod")
    monkeypatch.setenv("MASTRA_DEV", "1")
    s = Settings()
    assert s.is_dev and s.is_production


@pytest.mark.parametrize(
    "prefix, expected", [("/api", "/api"), ("/custom-api/", "/custom-api"), ("mastra", "/mastra"), ("", "")]
)
def test_prefix_normalisation(prefix: str, expected: str) -> None:
    assert Settings(api_prefix=prefix).normalised_api_prefix == expected


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Configuration file not found"):
        load_settings(tmp_path / "nope.toml")


def test_secret_is_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_AUTH_SECRET", "x" * 40)
    s = Settings()
    assert "x" * 40 not in repr(s) and s.secret == "x" * 40
