"""``[auth.options.cloud]`` and ``[auth.options.oidc]`` through the providers'
``from_options`` (SPEC 10.3): one model per name checks every key, TOML values and env
text alike, and keeps the messages SPEC and the docs rely on."""

from __future__ import annotations

from typing import Any

import pytest
from mastra.auth.cloud import MastraCloudAuth, MastraRBACCloud, OIDCAuth
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings

SECRET = "options-test-secret-0123456789abcdefghij"
CLOUD = {"project_id": "proj", "cloud_base_url": "http://127.0.0.1:9", "secret": SECRET}
OIDC = {"issuer": "http://127.0.0.1:9", "client_id": "app", "registry": "memory", "secret": SECRET}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MASTRA_AUTH_SECRET", "MASTRA_ENV", "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_API_AUDIENCE"):
        monkeypatch.delenv(var, raising=False)


def dev() -> Settings:
    return Settings(public_url="http://127.0.0.1:4111", _env_file=None)  # type: ignore[call-arg]


def cloud(options: dict[str, Any], settings: Settings | None = None) -> MastraCloudAuth:
    return MastraCloudAuth.from_options(ProviderOptions(options, settings or dev()))


def oidc(options: dict[str, Any], settings: Settings | None = None) -> OIDCAuth:
    return OIDCAuth.from_options(ProviderOptions(options, settings or dev()))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Ignored before: the cache stayed at 30 s.
        (
            {**CLOUD, "verify_cache_tll": 0},
            "cloud: unknown option 'verify_cache_tll' (did you mean 'verify_cache_ttl'?)",
        ),
        # Accepted before: -1 retries, a 0 s timeout.
        ({**CLOUD, "retries": "-1"}, "cloud: option 'retries': Input should be greater than or equal to 0"),
        ({**CLOUD, "timeout": "0"}, "cloud: option 'timeout': Input should be greater than 0"),
        # A ValueError from float() before, not a configuration error.
        (
            {**CLOUD, "verify_cache_ttl": "30s"},
            "cloud: option 'verify_cache_ttl': Input should be a valid number",
        ),
        ({**CLOUD, "cloud_base_url": "ftp://x"}, "cloud: option 'cloud_base_url': must be an http(s) URL"),
        (
            {**CLOUD, "role_mapping": {"admin": "*"}},
            "cloud role_mapping['admin'] must be a list of permissions",
        ),
        (
            {"cloud_base_url": "http://127.0.0.1:9"},
            "Mastra Cloud auth requires the options project_id and cloud_base_url (http(s) URL)",
        ),
    ],
)
def test_invalid_cloud_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        cloud(options)
    assert message in str(info.value)


def test_cloud_options_from_env_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__CLOUD__PROJECT_ID", "proj")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__CLOUD__CLOUD_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__CLOUD__VERIFY_CACHE_TTL", "0")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__CLOUD__RETRIES", "3")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__CLOUD__ROLE_MAPPING", '{"admin": ["*"]}')
    settings = Settings(public_url="https://app.example", auth_secret=SECRET, _env_file=None)  # type: ignore[call-arg]
    provider = cloud(settings.provider_options("cloud"), settings)
    assert (provider.verify_cache_ttl, provider.role_mapping) == (0.0, {"admin": ["*"]})
    assert provider.callback_url == "https://app.example/api/auth/sso/callback"


def test_cloud_secret_is_required_in_production_except_for_the_rbac_alone() -> None:
    prod = Settings(env="production", public_url="https://app.example", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match=r"^Mastra Cloud auth requires MASTRA_AUTH_SECRET"):
        cloud({"project_id": "proj", "cloud_base_url": "http://127.0.0.1:9"}, prod)
    rbac = MastraRBACCloud.from_options(ProviderOptions({"role_mapping": {"x": ["*"]}}, prod))
    assert rbac.role_mapping == {"x": ["*"]}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Ignored before: the client stayed public.
        (
            {**OIDC, "client_secert": "s"},
            "oidc: unknown option 'client_secert' (did you mean 'client_secret'?)",
        ),
        # Accepted before: a method without a client secret was silently replaced by "none".
        (
            {**OIDC, "token_endpoint_auth": "private_key_jwt"},
            "oidc: option 'token_endpoint_auth': Input should be 'client_secret_post', 'client_secret_basic'",
        ),
        # Accepted before: a negative timeout reached httpx.
        ({**OIDC, "timeout": "-5"}, "oidc: option 'timeout': Input should be greater than 0"),
        (
            {**OIDC, "typed_access_tokens": "ture"},
            "oidc: option 'typed_access_tokens': Input should be a valid boolean",
        ),
        ({**OIDC, "idle_timeout": "30m"}, "oidc: option 'idle_timeout': Input should be a valid integer"),
        ({**OIDC, "api_audience": ["a", "b"]}, "oidc: option 'api_audience': Input should be a valid string"),
        ({**OIDC, "audience": "app"}, "OIDC api_audience must differ from client_id"),
        (
            {"client_id": "app", "secret": SECRET},
            "OIDC requires issuer and client_id (OIDC_ISSUER, OIDC_CLIENT_ID)",
        ),
    ],
)
def test_invalid_oidc_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        oidc(options)
    assert message in str(info.value)


def test_oidc_values_and_its_session_options(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = oidc(
        {**OIDC, "scopes": ["email", "profile"], "typed_access_tokens": "auto", "idle_timeout": "600"}
    )
    assert provider.scopes == "openid email profile" and provider.token_endpoint_auth == "none"
    assert provider.sessions.idle_timeout == 600 and provider.sessions.cookie.name == "mastra_oidc_session"
    monkeypatch.setenv("OIDC_API_AUDIENCE", "urn:env")
    typed = oidc({**OIDC, "scopes": "openid,offline_access", "typed_access_tokens": "false"})
    assert typed.scopes == "openid offline_access" and typed.api_audience == "urn:env"
    assert typed.bearer is not None and typed.bearer.typed is False
    assert oidc({**OIDC, "audience": "urn:option"}).api_audience == "urn:option"  # options beat the env
