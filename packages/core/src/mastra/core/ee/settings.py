"""Configuration (SPEC 1.3): pydantic-settings, env prefix ``MASTRA_``, ``__`` nesting.

Precedence: explicit arguments > environment > TOML file (``./mastra.toml`` or
``--config PATH``) > defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .hookspecs import CAPABILITY_NAMES

__all__ = ["ApiKeyPolicy", "AuthSettings", "RateLimitSettings", "Settings", "load_settings"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./.mastra/mastra.db"


def _split_list(value: Any) -> Any:
    """Lists in env accept JSON (``'["a","b"]'``) or a comma list (``a,b``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _normalise_key(key: str) -> str:
    return key.strip().replace("-", "_").lower()


StrList = Annotated[list[str], NoDecode]


class RateLimitSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ip: str = "10/60"
    account: str = "5/300"
    #: Successful sign-ups per client IP (S21).
    sign_up: str = "5/3600"
    #: ``auto``, ``memory``, ``sql`` or ``redis``. ``auto`` = ``redis`` when
    #: ``MASTRA_REDIS_URL`` is set, else ``sql`` on PostgreSQL or with several workers,
    #: else ``memory``. ``memory`` keeps counters per process: refused with several workers.
    storage: str = "auto"


class ApiKeyPolicy(BaseModel):
    """Operator policy for API keys, whichever provider issues them (docs/api-keys.md)."""

    model_config = ConfigDict(extra="forbid")
    #: The ``<env>`` part of new keys (1-12 of ``[a-z0-9]``); unset = ``live`` in
    #: production, ``dev`` otherwise.
    environment: str | None = Field(default=None, pattern=r"^[a-z0-9]{1,12}$")
    #: Lifetime of a key created without one.
    default_ttl_days: float = Field(default=90, gt=0)
    #: The longest lifetime a key may be given (creation and rotation).
    max_ttl_days: float = Field(default=365, gt=0)


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None = None
    session: str | None = None
    sso: str | None = None
    credentials: str | None = None
    rbac: str | None = None
    acl: str | None = None
    audit: str | None = None
    audit_storage: str | None = None
    #: The API key provider; unset = ``sql`` whenever a user provider is selected.
    api_keys: str | None = None
    api_key_policy: ApiKeyPolicy = Field(default_factory=ApiKeyPolicy)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    public: StrList = Field(default_factory=list)
    protected: StrList = Field(default_factory=list)
    query_token: bool | None = None
    login_description: str | None = None
    # Seconds a successful authentication is reused by one server process. Revocations
    # made by this process apply at once; those made by another process (CLI, a second
    # server) within this many seconds. 0 reads the session registry on every request.
    cache_ttl: float = Field(default=1.0, ge=0, le=60)

    _split = field_validator("public", "protected", mode="before")(_split_list)

    @field_validator("options", mode="before")
    @classmethod
    def _normalise_options(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            _normalise_key(provider): (
                {_normalise_key(k): v for k, v in opts.items()} if isinstance(opts, dict) else opts
            )
            for provider, opts in value.items()
        }

    def selection(self) -> dict[str, str]:
        """Capabilities with a configured provider name."""
        return {cap: name for cap in CAPABILITY_NAMES if (name := getattr(self, cap))}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MASTRA_",
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="ignore",
        toml_file="mastra.toml",
    )

    auth: AuthSettings = Field(default_factory=AuthSettings)
    database_url: str = DEFAULT_DATABASE_URL
    auth_secret: SecretStr | None = None
    #: Secrets used before a rotation (``MASTRA_AUTH_PREVIOUS_SECRETS``, comma or JSON
    #: list): they only verify what was written under them (audit chain, S28).
    auth_previous_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    ee_license: SecretStr | None = None
    dev: bool | None = None
    env: str | None = None
    api_prefix: str = "/api"
    studio_base_path: str = "/"
    public_url: str | None = None
    trusted_origins: StrList = Field(default_factory=list)
    #: Extra ``Host`` names the server answers to (``*.example.com`` wildcards), S22.
    allowed_hosts: StrList = Field(default_factory=list)
    #: Request headers a trusted origin's preflight may ask for beyond the built-in ones
    #: (``MASTRA_CORS_ALLOW_HEADERS``, comma or JSON list), SPEC 9.2.
    cors_allow_headers: StrList = Field(default_factory=list)
    trusted_proxy_count: int = Field(default=0, ge=0)
    #: Shared state of several processes or nodes in Redis (``MASTRA_REDIS_URL``, needs
    #: ``mastra-core[redis]``): rate limits, SSO states, revocations and the channel that
    #: invalidates every node's auth cache. Unset: the database holds them (PostgreSQL:
    #: ``LISTEN/NOTIFY`` for the channel). A secret: the URL may carry a password.
    redis_url: SecretStr | None = None
    #: Server processes running this configuration (``serve --workers`` sets it): above 1,
    #: per-process state (memory rate limits, memory sessions) is refused.
    workers: int = Field(default=1, ge=1)
    #: The Swagger UI page at ``<prefix>/docs``; unset = on in development, off in production.
    docs_enabled: bool | None = None
    #: Prometheus metrics at ``<prefix>/system/metrics`` (needs ``mastra-core[metrics]``).
    metrics_enabled: bool = False
    #: Bearer token a scraper sends (``Authorization: Bearer …``); without one, metrics
    #: answer only loopback callers.
    metrics_token: SecretStr | None = None
    disabled_plugins: StrList = Field(
        default_factory=list,
        validation_alias=AliasChoices("MASTRA_EE_DISABLED_PLUGINS", "disabled_plugins"),
    )

    #: Plugins that are not installed as entry points, loaded after them, each in its
    #: own ``try``: ``package.module`` or ``package.module:attr`` (comma or JSON list).
    extra_plugins: StrList = Field(
        default_factory=list,
        validation_alias=AliasChoices("MASTRA_EE_EXTRA_PLUGINS", "extra_plugins"),
    )

    _split = field_validator(
        "trusted_origins",
        "allowed_hosts",
        "cors_allow_headers",
        "disabled_plugins",
        "extra_plugins",
        mode="before",
    )(_split_list)

    _split_previous_secrets = field_validator("auth_previous_secrets", mode="before")(_split_list)

    @field_validator("public_url")
    @classmethod
    def _strip_public_url(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # -- derived values -------------------------------------------------------------

    @property
    def is_dev(self) -> bool:
        """SPEC 5: ``MASTRA_DEV`` true wins; else anything but production counts as dev."""
        if self.dev:
            return True
        return (self.env or "").strip().lower() not in {"production", "prod"}

    @property
    def is_production(self) -> bool:
        return (self.env or "").strip().lower() in {"production", "prod"}

    @property
    def query_token_enabled(self) -> bool:
        if self.auth.query_token is not None:
            return self.auth.query_token
        return not self.is_production

    @property
    def docs_ui_enabled(self) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return not self.is_production

    @property
    def secret(self) -> str | None:
        return self.auth_secret.get_secret_value() if self.auth_secret else None

    @property
    def normalised_api_prefix(self) -> str:
        """Trimmed, leading ``/``, no trailing ``/``; an empty prefix stays empty."""
        text = self.api_prefix.strip().strip("/")
        return f"/{text}" if text else ""

    @property
    def normalised_studio_base(self) -> str:
        """Always ends with ``/`` (``/`` or ``/studio/``)."""
        text = self.studio_base_path.strip().strip("/")
        return f"/{text}/" if text else "/"

    def provider_options(self, name: str) -> dict[str, Any]:
        """``[auth.options.<name>]`` merged with env (keys normalised)."""
        return dict(self.auth.options.get(_normalise_key(name), {}))


def load_settings(config_path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build settings from a specific TOML file (``--config``) or ``./mastra.toml``.

    A missing ``--config`` file or malformed TOML is a :class:`ConfigurationError` that
    names the file."""
    import tomllib

    from .errors import ConfigurationError

    path = Path(config_path if config_path is not None else "mastra.toml")
    if config_path is not None and not path.is_file():
        raise ConfigurationError(f"Configuration file not found: {path}")

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    try:
        return Settings(**overrides) if config_path is None else _FileSettings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: malformed TOML: {exc}") from exc
