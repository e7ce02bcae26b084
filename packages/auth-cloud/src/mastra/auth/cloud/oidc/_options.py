"""Options of the ``oidc`` provider (SPEC 10.3 table, README): the IdP client, the
API audience of bearer tokens (S24) and the core ``cookie`` session options its
session is built on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import Fallbacks
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator, model_validator

from .._browser_login import BrowserLoginOptions

__all__ = ["OIDCOptions"]

#: The core ``cookie`` session options an OIDC session takes (its cookie name is fixed).
SESSION_KEYS = ("idle_timeout", "absolute_timeout", "registry", "cookie_domain", "previous_secrets")

TokenEndpointAuth = Literal["client_secret_post", "client_secret_basic", "none"]


class OIDCOptions(BrowserLoginOptions):
    """``[auth.options.oidc]``. ``audience`` is accepted as the old spelling of
    ``api_audience`` (an ``api_audience`` wins); session options left unset take the
    ``cookie`` provider's defaults."""

    provider_name = "oidc"
    owner: ClassVar[str] = "OIDC"
    fallbacks: ClassVar[Fallbacks] = {
        **BrowserLoginOptions.fallbacks,
        "issuer": ("OIDC_ISSUER",),
        "client_id": ("OIDC_CLIENT_ID",),
        "client_secret": ("OIDC_CLIENT_SECRET",),
        "redirect_uri": ("OIDC_REDIRECT_URI",),
        "scopes": ("OIDC_SCOPES",),
        "api_audience": ("OIDC_API_AUDIENCE", "OIDC_AUDIENCE"),
    }

    issuer: str = ""
    client_id: str = ""
    client_secret: str | None = Field(default=None, repr=False)
    redirect_uri: str | None = None
    scopes: str = "openid profile email"
    #: Bearer access tokens stay off until an API audience distinct from client_id is set.
    api_audience: str | None = None
    #: ``true``, ``false`` or unset/``auto`` (see ``_bearer``).
    typed_access_tokens: bool | None = None
    token_endpoint_auth: TokenEndpointAuth = "client_secret_post"  # noqa: S105 - a method name
    roles_claim: str | None = None
    label: str = "Sign in with SSO"
    timeout: PositiveFloat = 10.0
    discovery_ttl: NonNegativeFloat = 3600.0
    jwks_ttl: NonNegativeFloat = 3600.0
    idle_timeout: PositiveInt | None = None
    absolute_timeout: PositiveInt | None = None
    registry: str | None = None
    cookie_domain: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _audience_alias(cls, data: Any) -> Any:
        # Runs before the fallbacks: an ``audience`` option beats OIDC_API_AUDIENCE.
        if not isinstance(data, Mapping) or "audience" not in data:
            return data
        values = dict(data)
        audience = values.pop("audience")
        if not values.get("api_audience"):
            values["api_audience"] = audience
        return values

    @field_validator("scopes", mode="before")
    @classmethod
    def _scope_string(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            value = " ".join(str(scope) for scope in value)
        if not isinstance(value, str):
            return value
        scopes = value.replace(",", " ").split()
        return " ".join(scopes if "openid" in scopes else ["openid", *scopes])

    @field_validator("typed_access_tokens", mode="before")
    @classmethod
    def _auto_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() == "auto" else value

    @model_validator(mode="after")
    def _check(self) -> OIDCOptions:
        if not self.issuer or not self.client_id:
            raise ConfigurationError("OIDC requires issuer and client_id (OIDC_ISSUER, OIDC_CLIENT_ID)")
        if self.api_audience == self.client_id:
            raise ConfigurationError(
                "OIDC api_audience must differ from client_id: ID tokens are addressed to the client, "
                "so they would be accepted as bearer tokens"
            )
        return self

    @property
    def endpoint_auth(self) -> str:
        """How the token endpoint authenticates us: a public client (no secret) sends none."""
        return self.token_endpoint_auth if self.client_secret else "none"

    def session_options(self, cookie_name: str) -> dict[str, Any]:
        """Options of the core ``cookie`` provider that holds the OIDC session."""
        values = {key: getattr(self, key) for key in SESSION_KEYS}
        return {**values, "cookie_name": cookie_name, "secret": self.sealing_secret()}
