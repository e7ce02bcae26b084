"""WorkOS access tokens, verified by the core JWT layer (SPEC 10.1, S24).

WorkOS signs access tokens with RS256 keys published at ``get_jwks_url()``; they carry
no ``aud``, and ``iss`` is checked when the SDK issuer (``jwt_issuer``) is configured.
Every token verified here is used as an access token (callback, refresh, bearer), so a
token carrying ``nonce`` or ``at_hash`` (claims only ID tokens have, OIDC Core 2,
3.1.3.6) or typed as another kind of JWT is refused even though WorkOS signed it.

Keys come from the core :class:`~mastra.core.ee.crypto.JWKSCache` (downloads with httpx,
keeps the last good keys while WorkOS is unreachable, one rate-limited refetch for an
unknown ``kid``), not from the SDK's ``AsyncSession.authenticate()``: that verifies
through PyJWT's ``PyJWKClient``, which downloads with blocking ``urllib`` on the event
loop. Failures are the core ones: ``TokenInvalid`` (unauthenticated) and
``JWKSUnavailable`` (503 / ``provider_unavailable``).
"""

from __future__ import annotations

from typing import Any

from mastra.core.ee.crypto import KeySource, TokenKind, verify

__all__ = ["verify_access_token"]


async def verify_access_token(
    keys: KeySource, token: str, *, issuer: str | None, check_expiry: bool = True
) -> dict[str, Any]:
    """Claims of an access token signed by a current WorkOS key."""
    return await verify(
        token,
        keys,
        issuer=issuer,
        audience=None,  # WorkOS access tokens are not addressed to an audience
        algorithms=("RS256",),
        kind=TokenKind.ACCESS_TOKEN,
        check_expiry=check_expiry,
    )
