"""Bearer access tokens for the OIDC provider (SPEC 10.3, S24).

A bearer token must be an access token issued for *this API*: a JWT verified against
the issuer's JWKS with ``iss`` = issuer and ``aud`` = ``api_audience``. The API audience
is its own option and must differ from ``client_id``, because ID tokens are addressed
to the client: with ``aud`` = ``client_id`` every ID token (for instance the
``id_token_hint`` of a logout URL) would authenticate API calls. Tokens carrying
``nonce``/``at_hash`` or typed as something else are refused in :mod:`._tokens`.

When does the issuer "type its access tokens" (RFC 9068 ``typ: at+jwt``)? Discovery
does not say, and many issuers put ``typ: JWT`` (or nothing) on every token, so
requiring ``at+jwt`` unconditionally would lock them out. Option
``typed_access_tokens``:

* ``true``: only ``at+jwt`` / ``application/at+jwt`` tokens are accepted;
* ``false``: ``typ`` may also be absent or ``JWT``;
* unset (``auto``): as ``false`` until this provider has accepted an ``at+jwt`` token
  from the issuer, then as ``true`` for the life of the process: an issuer that types
  its access tokens types all of them, so an untyped token from it is something else.
  Only a token signed by the issuer for ``api_audience`` can switch this on, so an
  attacker cannot. Each process learns on its own; set ``true`` for a fixed rule.

Explicitly foreign types (``logout+jwt``, ``dpop+jwt``…) are refused in every mode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mastra.core.ee.errors import ConfigurationError

from ._discovery import OIDCMetadata
from ._tokens import AT_JWT, token_type, validate_jwt

__all__ = ["BearerVerifier", "api_audience_option", "typed_option"]

logger = logging.getLogger("mastra.auth.cloud.oidc")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def api_audience_option(options: Mapping[str, Any], environ: Mapping[str, str], client_id: str) -> str | None:
    """``api_audience`` (alias ``audience``), else ``OIDC_API_AUDIENCE`` (``OIDC_AUDIENCE``).

    Options win over the environment, whichever spelling each uses.
    """
    value: Any = next((options[k] for k in ("api_audience", "audience") if options.get(k)), None)
    if value is None:
        value = environ.get("OIDC_API_AUDIENCE") or environ.get("OIDC_AUDIENCE") or None
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError("OIDC api_audience must be a single string")
    if value == client_id:
        raise ConfigurationError(
            "OIDC api_audience must differ from client_id: ID tokens are addressed to the client, "
            "so they would be accepted as bearer tokens"
        )
    return value


def typed_option(value: Any) -> bool | None:
    """``typed_access_tokens``: ``True``/``False``, or ``None`` for ``auto`` (unset)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "auto"):
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"OIDC typed_access_tokens must be true, false or auto, not {value!r}")


class BearerVerifier:
    def __init__(self, *, issuer: str, audience: str, metadata: OIDCMetadata, typed: bool | None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.metadata = metadata
        self.typed = typed
        self._seen_typed = False

    @property
    def require_typ(self) -> bool:
        return self.typed if self.typed is not None else self._seen_typed

    async def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid access token; raises ``TokenError``, ``UnknownKeyError`` or
        ``DiscoveryError`` otherwise."""
        md = await self.metadata.get()
        claims = await validate_jwt(
            token,
            key_lookup=self.metadata.key_for,
            issuer=self.issuer,
            audience=self.audience,
            allowed_algs=md.get("id_token_signing_alg_values_supported") or ["RS256"],
            client_secret=None,  # never accept HMAC access tokens: the secret is not the IdP's key
            check_azp=False,
            access_token=True,
            require_typ=self.require_typ,
        )
        if self.typed is None and not self._seen_typed and token_type(token) == AT_JWT:
            self._seen_typed = True
            logger.info("OIDC issuer types its access tokens (at+jwt); untyped bearer tokens are now refused")
        return claims
