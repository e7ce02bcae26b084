"""Provider options (SPEC 10.1 table) and the cookie password rule.

Options come from ``[auth.options.workos]`` (keys already lower snake case) plus the
read-only ``_settings``; the ``WORKOS_*`` environment variables are fallbacks used
only when an option is unset.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mastra.core.ee.crypto import derive_key
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.settings import Settings

__all__ = ["BUTTON_TEXT", "PROVIDERS", "WorkOSOptions", "derive_fernet_key"]

logger = logging.getLogger("mastra.auth.workos")

#: OAuth providers AuthKit accepts for ``provider``, with the button label of each.
BUTTON_TEXT = {
    "GoogleOAuth": "Sign in with Google",
    "MicrosoftOAuth": "Sign in with Microsoft",
    "GitHubOAuth": "Sign in with GitHub",
    "AppleOAuth": "Sign in with Apple",
}
PROVIDERS = tuple(BUTTON_TEXT)

MISSING_CREDENTIALS = "WorkOS API key and client ID are required"
SHORT_PASSWORD = "WorkOS cookie password must be at least 32 characters"  # noqa: S105 - an error message
_HKDF_SALT = b"mastra-workos-cookie"
_HKDF_INFO = b"fernet-key"


def _is_fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode("ascii"))) == 32 and len(value) == 44
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def derive_fernet_key(password: str) -> str:
    """A Fernet key as is; any other password of ≥ 32 characters through HKDF-SHA256.

    The SDK seals with Fernet, whose key must be 32 url-safe base64 bytes; people
    configure passphrases, so those are stretched into a key deterministically
    (every worker derives the same key from the same password).
    """
    if _is_fernet_key(password):
        return password
    if len(password) < 32:
        raise ConfigurationError(SHORT_PASSWORD)
    key = derive_key(password, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(key).decode("ascii")


def _opt(options: Mapping[str, Any], key: str, env: str | None = None) -> Any:
    value = options.get(key)
    if value in (None, "") and env:
        value = os.environ.get(env) or None
    return value


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in value]


def _bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


@dataclass(frozen=True)
class WorkOSOptions:
    api_key: str = field(repr=False)
    client_id: str
    cookie_key: str = field(repr=False)  # a Fernet key (derived or given)
    settings: Settings = field(repr=False, compare=False)
    redirect_uri: str | None = None
    cookie_name: str = "wos_session"
    connection: str | None = None
    provider: str | None = None
    organization: str | None = None
    organization_id: str | None = None
    role_mapping: dict[str, list[str]] | None = None
    fetch_memberships: bool = False
    webhook_secret: str | None = field(default=None, repr=False)
    base_url: str | None = None
    audit_action_prefix: str = "mastra"
    absolute_timeout: int = 43200
    dsync_handler: str | None = None
    honor_token_permissions: bool = False
    max_retries: int = 2
    request_timeout: int = 10
    jwt_issuer: str | None = None

    @property
    def production(self) -> bool:
        return self.settings.is_production

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> WorkOSOptions:
        settings = options.get("_settings")
        if not isinstance(settings, Settings):
            settings = Settings()
        api_key = _opt(options, "api_key", "WORKOS_API_KEY")
        client_id = _opt(options, "client_id", "WORKOS_CLIENT_ID")
        if not api_key or not client_id:
            raise ConfigurationError(MISSING_CREDENTIALS)

        password = _opt(options, "cookie_password", "WORKOS_COOKIE_PASSWORD")
        if password:
            cookie_key = derive_fernet_key(str(password))
        elif settings.is_production:
            raise ConfigurationError(
                "WorkOS cookie_password (or WORKOS_COOKIE_PASSWORD) is required in production"
            )
        else:
            cookie_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
            logger.warning(
                "WorkOS cookie_password is not set; generated a random one for this process "
                "(sessions will not survive a restart)"
            )

        provider = _opt(options, "provider")
        if provider is not None and provider not in PROVIDERS:
            raise ConfigurationError(
                f"WorkOS provider must be one of {', '.join(PROVIDERS)} (got {provider!r})"
            )
        mapping = options.get("role_mapping")
        role_mapping = (
            {str(k): _str_list(v) for k, v in dict(mapping).items()} if mapping is not None else None
        )
        redirect_uri = _opt(options, "redirect_uri", "WORKOS_REDIRECT_URI")
        if not redirect_uri and settings.public_url:
            redirect_uri = f"{settings.public_url}{settings.normalised_api_prefix}/auth/sso/callback"
        return cls(
            api_key=str(api_key),
            client_id=str(client_id),
            cookie_key=cookie_key,
            settings=settings,
            redirect_uri=redirect_uri,
            cookie_name=str(options.get("cookie_name") or "wos_session"),
            connection=_opt(options, "connection"),
            provider=provider,
            organization=_opt(options, "organization"),
            organization_id=_opt(options, "organization_id"),
            role_mapping=role_mapping,
            fetch_memberships=_bool(options.get("fetch_memberships")),
            webhook_secret=_opt(options, "webhook_secret", "WORKOS_WEBHOOK_SECRET"),
            base_url=_opt(options, "base_url", "WORKOS_BASE_URL"),
            audit_action_prefix=str(options.get("audit_action_prefix") or "mastra"),
            absolute_timeout=int(options.get("absolute_timeout") or 43200),
            dsync_handler=_opt(options, "dsync_handler"),
            honor_token_permissions=_bool(options.get("honor_token_permissions")),
            max_retries=int(options.get("max_retries", 2)),
            request_timeout=int(options.get("request_timeout") or 10),
            jwt_issuer=_opt(options, "jwt_issuer", "WORKOS_ISSUER"),
        )
