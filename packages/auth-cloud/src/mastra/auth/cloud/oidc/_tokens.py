"""OIDC ID-token validation (SPEC 10.3, S9) on the core JWT layer.

:func:`mastra.core.ee.crypto.verify` checks the signature (JWKS key by ``kid``; ``HS*``
only keyed by the client secret), ``alg`` (advertised by the IdP, ``none`` never),
``iss``, ``aud`` containing ``client_id``, ``exp``/``iat`` with 60 s leeway and ``sub``.
This module adds the two rules that only ID tokens have (OIDC Core 3.1.3.7): with
several audiences, or an ``azp`` at all, ``azp`` must be the client; and ``nonce`` must
be the one of this browser's login.

Errors are the core ones: ``TokenInvalid`` (refuse the login) and ``JWKSUnavailable``
(the IdP's keys cannot be had: a 503-class failure, not a bad token).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mastra.core.ee.crypto import KeySource, TokenInvalid, TokenKind, constant_time_equals, verify

__all__ = ["validate_id_token"]


async def validate_id_token(
    token: str,
    keys: KeySource,
    *,
    issuer: str,
    client_id: str,
    algorithms: Collection[str],
    client_secret: str | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """The claims of a valid ID token for ``client_id``. ``nonce``: the login's nonce,
    or ``None`` for an ID token from a refresh, which carries none to compare."""
    claims = await verify(
        token,
        keys,
        issuer=issuer,
        audience=client_id,
        algorithms=algorithms,
        kind=TokenKind.ID_TOKEN,
        secret=client_secret,
    )
    aud = claims["aud"]  # verify: a string or a list of strings holding client_id
    azp = claims.get("azp")
    if ((isinstance(aud, list) and len(aud) > 1) or azp is not None) and azp != client_id:
        raise TokenInvalid("azp mismatch")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not nonce or not constant_time_equals(got, nonce):
            raise TokenInvalid("nonce mismatch")
    return claims
