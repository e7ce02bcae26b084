"""Bearer access tokens for the OIDC provider (SPEC 10.3, S24).

A bearer token must be an access token issued for *this API*: a JWT verified against
the issuer's JWKS with ``iss`` = issuer and ``aud`` = ``api_audience``. The API audience
is its own option and must differ from ``client_id``, because ID tokens are addressed
to the client: with ``aud`` = ``client_id`` every ID token (for instance the
``id_token_hint`` of a logout URL) would authenticate API calls. Tokens carrying
``nonce``/``at_hash`` or typed as something else are refused by the core layer
(:func:`mastra.core.ee.crypto.verify`, ``TokenKind.ACCESS_TOKEN``), whose failure rules
apply: a bad token is ``TokenInvalid``, unreachable keys are ``JWKSUnavailable`` (503).

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
from typing import Any

from mastra.core.ee.crypto import AT_JWT, TokenKind, token_type, verify

from ._discovery import OIDCMetadata

__all__ = ["BearerVerifier"]

logger = logging.getLogger("mastra.auth.cloud.oidc")


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
        """Claims of a valid access token; raises ``TokenInvalid`` or ``JWKSUnavailable``."""
        keys, algorithms = await self.metadata.signing_keys()
        claims = await verify(
            token,
            keys,
            issuer=self.issuer,
            audience=self.audience,
            algorithms=algorithms,
            # no ``secret``: never HMAC access tokens, the client secret is not the IdP's key
            kind=TokenKind.TYPED_ACCESS_TOKEN if self.require_typ else TokenKind.ACCESS_TOKEN,
        )
        if self.typed is None and not self._seen_typed and token_type(token) == AT_JWT:
            self._seen_typed = True
            logger.info("OIDC issuer types its access tokens (at+jwt); untyped bearer tokens are now refused")
        return claims
