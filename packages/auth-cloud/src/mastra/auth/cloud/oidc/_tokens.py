"""ID token and access-token JWT validation (SPEC 10.3, S9, S24).

Checks, in order: compact JWS shape, ``alg`` (one of the algorithms the IdP advertises,
default RS256; ``none`` always refused; ``HS*`` only with a client secret, keyed by
it, and never for access tokens), for access tokens the JOSE ``typ``, signature (JWKS
key by ``kid``), ``iss``, ``aud``/``azp``, ``exp``/``iat`` with 60 s leeway, ``sub``,
``nonce`` for ID tokens, and for access tokens the absence of ``nonce``/``at_hash``.

Access tokens (``access_token=True``): a ``typ`` naming any type other than a generic
JWT or an RFC 9068 access token (``logout+jwt``, ``dpop+jwt``…) is refused outright;
with ``require_typ`` only ``at+jwt`` is accepted. ``nonce`` and ``at_hash`` exist only
in ID tokens (OIDC Core 2, 3.1.3.6), so a token carrying either is an ID token however
it is addressed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jws import extract_compact
from mastra.core.ee.crypto import constant_time_equals, has_id_token_claims

__all__ = ["AT_JWT", "TokenError", "token_type", "validate_jwt"]

LEEWAY = 60
AT_JWT = "at+jwt"  # RFC 9068; ``application/at+jwt`` is the same media type
_GENERIC_TYPE = "jwt"  # what many issuers put on every token, access or not
KeyLookup = Callable[[str | None, str], Awaitable[Any]]


class TokenError(Exception):
    """A token failed validation; the message names the check (never the token)."""


def _header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16_384:
        raise TokenError("malformed token")
    try:
        header = extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenError("malformed token") from exc
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise TokenError("malformed token header")
    return header


def token_type(token: str) -> str | None:
    """The normalised JOSE ``typ`` of a compact token (see :func:`_jose_type`)."""
    return _jose_type(_header(token))


def _jose_type(header: dict[str, Any]) -> str | None:
    """The header's ``typ`` as a media type, lower-cased and without the ``application/``
    prefix RFC 7515 (4.1.9) lets senders omit; ``None`` when absent."""
    typ = header.get("typ")
    if typ is None:
        return None
    if not isinstance(typ, str):
        raise TokenError("typ malformed")
    return typ.strip().lower().removeprefix("application/")


def _check_access_type(header: dict[str, Any], *, require_typ: bool) -> None:
    typ = _jose_type(header)
    if typ == AT_JWT:
        return
    if require_typ:
        raise TokenError("access token not typed at+jwt")
    if typ not in (None, _GENERIC_TYPE):
        raise TokenError("token typed as something other than an access token")


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return aud
    raise TokenError("aud missing or malformed")


async def validate_jwt(
    token: str,
    *,
    key_lookup: KeyLookup,
    issuer: str,
    audience: str,
    allowed_algs: Sequence[str],
    client_secret: str | None = None,
    nonce: str | None = None,
    expect_nonce: bool = False,
    check_azp: bool = True,
    access_token: bool = False,
    require_typ: bool = False,
    now: float | None = None,
) -> dict[str, Any]:
    header = _header(token)
    alg = header["alg"]
    if alg.lower() == "none":
        raise TokenError("unsigned tokens are refused")
    if alg not in allowed_algs:
        raise TokenError(f"algorithm {alg} not allowed")
    if access_token:
        _check_access_type(header, require_typ=require_typ)  # before any JWKS fetch
    if alg.startswith("HS"):
        if not client_secret:
            raise TokenError("HMAC-signed token without a client secret")
        key: Any = OctKey.import_key(client_secret)
    else:
        kid = header.get("kid")
        key = await key_lookup(kid if isinstance(kid, str) else None, alg)
    try:
        claims = jwt.decode(token, key, algorithms=[alg]).claims
    except (JoseError, ValueError) as exc:
        raise TokenError("bad signature") from exc
    if not isinstance(claims, dict):
        raise TokenError("claims are not an object")

    if claims.get("iss") != issuer:
        raise TokenError("iss mismatch")
    audiences = _audiences(claims)
    if audience not in audiences:
        raise TokenError("aud mismatch")
    azp = claims.get("azp")
    if check_azp and (len(audiences) > 1 or azp is not None) and azp != audience:
        raise TokenError("azp mismatch")
    current = time.time() if now is None else now
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= current - LEEWAY:
        raise TokenError("token expired")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > current + LEEWAY:
        raise TokenError("iat missing or in the future")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenError("sub missing")
    if expect_nonce:
        got = claims.get("nonce")
        if not isinstance(got, str) or not nonce or not constant_time_equals(got, nonce):
            raise TokenError("nonce mismatch")
    if access_token and has_id_token_claims(claims):
        raise TokenError("ID token presented as an access token")
    return claims
