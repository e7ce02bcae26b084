"""Provider options (SPEC 10.1 table) and the cookie password rule.

Options come from ``[auth.options.workos]`` (keys already lower snake case); the
``WORKOS_*`` environment variables are fallbacks used only when an option is unset.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from typing import Annotated, ClassVar

from mastra.core.ee.crypto import derive_key
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import Fallbacks, ListOption, OptionsModel, from_text
from mastra.core.ee.settings import Settings
from pydantic import (
    BeforeValidator,
    Field,
    NonNegativeInt,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

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


def _callback_url(settings: Settings) -> str | None:
    if not settings.public_url:
        return None
    return f"{settings.public_url}{settings.normalised_api_prefix}/auth/sso/callback"


#: ``{role: [permissions]}``: a TOML table, or JSON from the environment.
RoleMappingOption = Annotated[dict[str, ListOption], BeforeValidator(from_text)]


class WorkOSOptions(OptionsModel):
    """``[auth.options.workos]``; ``cookie_key`` is the Fernet key the session cookie is
    sealed with (derived from ``cookie_password``; random per process in development)."""

    provider_name = "workos"
    fallbacks: ClassVar[Fallbacks] = {
        "api_key": ("WORKOS_API_KEY",),
        "client_id": ("WORKOS_CLIENT_ID",),
        "cookie_password": ("WORKOS_COOKIE_PASSWORD",),
        "redirect_uri": ("WORKOS_REDIRECT_URI", _callback_url),
        "webhook_secret": ("WORKOS_WEBHOOK_SECRET",),
        "base_url": ("WORKOS_BASE_URL",),
        "jwt_issuer": ("WORKOS_ISSUER",),
    }

    api_key: str | None = Field(default=None, repr=False)
    client_id: str | None = None
    cookie_password: str | None = Field(default=None, repr=False)
    redirect_uri: str | None = None
    cookie_name: str = "wos_session"
    connection: str | None = None
    provider: str | None = None
    organization: str | None = None
    organization_id: str | None = None
    role_mapping: RoleMappingOption | None = None
    fetch_memberships: bool = False
    webhook_secret: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    audit_action_prefix: str = "mastra"
    absolute_timeout: PositiveInt = 43200
    dsync_handler: str | None = None
    honor_token_permissions: bool = False
    max_retries: NonNegativeInt = 2
    request_timeout: PositiveInt = 10
    jwt_issuer: str | None = None

    _cookie_key: str = PrivateAttr(default="")

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        if value is not None and value not in PROVIDERS:
            raise ValueError(f"WorkOS provider must be one of {', '.join(PROVIDERS)} (got {value!r})")
        return value

    @model_validator(mode="after")
    def _credentials_and_cookie_key(self) -> WorkOSOptions:
        if not self.api_key or not self.client_id:
            raise ConfigurationError(MISSING_CREDENTIALS)
        if self.cookie_password:
            self._cookie_key = derive_fernet_key(self.cookie_password)
        elif self.production:
            raise ConfigurationError(
                "WorkOS cookie_password (or WORKOS_COOKIE_PASSWORD) is required in production"
            )
        else:
            self._cookie_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
            logger.warning(
                "WorkOS cookie_password is not set; generated a random one for this process "
                "(sessions will not survive a restart)"
            )
        return self

    @property
    def cookie_key(self) -> str:
        """The Fernet key (given, derived, or random in development)."""
        return self._cookie_key

    @property
    def production(self) -> bool:
        return self.settings.is_production
