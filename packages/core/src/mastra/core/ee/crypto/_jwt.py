"""JWT verification against an identity provider's keys: the one layer WorkOS and OIDC use.

``await verify(token, keys, issuer=..., audience=..., ...)`` returns the token's claims
or raises one of two errors, and every caller handles them the same way:

* :class:`TokenInvalid`: the token is not acceptable (malformed, algorithm not allowed,
  wrong ``typ``, bad signature, unknown key, wrong ``iss``/``aud``, expired, not yet
  valid, issued in the future, a required claim missing, an ID token presented as an
  access token). The caller treats the request as **unauthenticated**: ``None`` from
  ``authenticate_token``, its own refusal code from an SSO callback. The message names
  the failed check, never the token.
* :class:`JWKSUnavailable`, a :class:`~mastra.core.ee.errors.ProviderUnavailable`
  (HTTP **503**): the keys could not be had (the JWKS endpoint, or OIDC discovery,
  failed and no cached key answers). It says nothing about the token, so no caller turns
  it into "unauthenticated": bearer authentication lets it propagate (the host answers
  503, ``Auth provider unavailable``), an SSO callback reports ``provider_unavailable``.
  When keys are cached, an unreachable IdP does not stop tokens signed by known keys
  (see :class:`~mastra.core.ee.crypto.JWKSCache`).

Checks, cheapest first, so a token that fails on its face never costs a JWKS download:

1. compact JWS of at most 16 KiB, a JSON header with a string ``alg``, no ``crit``
   (no JWT needs one; it would switch on RFC 7797 unencoded payloads);
2. ``alg`` in the caller's allow-list and one this layer supports; ``none`` never;
   ``HS*`` only keyed by the caller's ``secret`` (an OIDC client secret), never by a key
   from a JWKS: a JWKS is public, so an HMAC key from it would let anyone sign;
3. the JOSE ``typ`` rule of the :class:`TokenKind`;
4. the claims (read before the signature only to refuse, never to accept): each of
   ``required`` present, ``iss`` equal to ``issuer`` and ``audience`` one of the ``aud``
   values (exact string comparison; ``None`` skips the check), ``exp`` not past, ``nbf``
   and ``iat`` not in the future, each within ``leeway`` (60 s, SPEC 10.3), ``sub`` a
   non-empty string, and for access tokens no ``nonce``/``at_hash`` (S24);
5. the signature, with the key the token's ``kid`` names (``keys.key_for``).
"""

from __future__ import annotations

import enum
import json
import math
import time
from collections.abc import Collection
from typing import Any, Protocol

from joserfc.errors import JoseError
from joserfc.jwk import Key, OctKey
from joserfc.jws import CompactSignature, extract_compact, validate_compact

from ..errors import MastraEEError, ProviderUnavailable
from ._tokens import has_id_token_claims

__all__ = [
    "AT_JWT",
    "LEEWAY",
    "SUPPORTED_ALGORITHMS",
    "JWKSUnavailable",
    "KeySource",
    "TokenInvalid",
    "TokenKind",
    "token_type",
    "unverified_claims",
    "verify",
]

#: Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat`` (SPEC 10.3).
LEEWAY = 60.0
#: RFC 9068 access-token type; ``application/at+jwt`` is the same media type.
AT_JWT = "at+jwt"
_GENERIC_TYPE = "jwt"  # what many issuers put on every token, access or not
MAX_TOKEN_LENGTH = 16_384
REQUIRED_CLAIMS = ("exp", "iat", "sub")
_HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
#: Every algorithm ``verify`` accepts when the caller allows it.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
    | _HMAC_ALGORITHMS
)


class TokenInvalid(MastraEEError):
    """The token is not acceptable; the caller treats the request as unauthenticated."""


class JWKSUnavailable(ProviderUnavailable):
    """The verification keys could not be fetched; nothing is known about the token.

    Users see only ``Auth provider unavailable`` (503); ``reason`` (also ``str()``) is
    for the log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class TokenKind(enum.Enum):
    """What the caller will use the token as; decides the JOSE ``typ`` rule."""

    #: An OIDC ID token: ``typ`` is not checked.
    ID_TOKEN = enum.auto()
    #: An access token: ``typ`` absent, ``JWT`` or ``at+jwt``; any other type (``logout+jwt``,
    #: ``dpop+jwt``…) is another kind of token. ``nonce``/``at_hash`` are refused.
    ACCESS_TOKEN = enum.auto()
    #: An access token of an issuer that types them (RFC 9068): ``typ`` must be ``at+jwt``.
    TYPED_ACCESS_TOKEN = enum.auto()


class KeySource(Protocol):
    """Where ``verify`` gets the public key for a token's ``kid`` and ``alg``
    (:class:`~mastra.core.ee.crypto.JWKSCache`). Raises ``TokenInvalid`` for an unknown
    key, ``JWKSUnavailable`` when the keys cannot be fetched."""

    async def key_for(self, kid: str | None, alg: str) -> Key: ...


def _parse(token: str) -> CompactSignature:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenInvalid("malformed token")
    try:
        signed = extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenInvalid("malformed token") from exc
    header = signed.protected
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise TokenInvalid("malformed token header")
    if "crit" in header:
        raise TokenInvalid("critical header parameters are not supported")
    if header.get("kid") is not None and not isinstance(header["kid"], str):
        raise TokenInvalid("malformed token header")
    return signed


def _payload(signed: CompactSignature) -> dict[str, Any]:
    try:
        claims = json.loads(signed.payload)
    except (ValueError, TypeError) as exc:
        raise TokenInvalid("claims are not JSON") from exc
    if not isinstance(claims, dict):
        raise TokenInvalid("claims are not an object")
    return claims


def _jose_type(header: dict[str, Any]) -> str | None:
    """The header's ``typ`` as a media type, lower-cased and without the ``application/``
    prefix RFC 7515 (4.1.9) lets senders omit; ``None`` when absent."""
    typ = header.get("typ")
    if typ is None:
        return None
    if not isinstance(typ, str):
        raise TokenInvalid("typ malformed")
    return typ.strip().lower().removeprefix("application/")


def token_type(token: str) -> str | None:
    """The normalised JOSE ``typ`` of a compact token (``at+jwt``, ``jwt``…), unverified."""
    return _jose_type(_parse(token).protected)


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a token **without any check**.

    Only for a token whose authenticity is established otherwise: one that was verified
    with :func:`verify` before being sealed into an authenticated cookie.
    """
    return _payload(_parse(token))


def _check_algorithm(alg: str, algorithms: Collection[str], secret: str | None) -> None:
    if alg.lower() == "none":
        raise TokenInvalid("unsigned tokens are refused")
    if alg not in algorithms or alg not in SUPPORTED_ALGORITHMS:
        raise TokenInvalid(f"algorithm {alg[:20]} not allowed")
    if alg in _HMAC_ALGORITHMS and not secret:
        raise TokenInvalid("HMAC-signed token without a shared secret")


def _check_type(header: dict[str, Any], kind: TokenKind) -> None:
    if kind is TokenKind.ID_TOKEN:
        return
    typ = _jose_type(header)
    if typ == AT_JWT:
        return
    if kind is TokenKind.TYPED_ACCESS_TOKEN:
        raise TokenInvalid("access token not typed at+jwt")
    if typ not in (None, _GENERIC_TYPE):
        raise TokenInvalid("token typed as something other than an access token")


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return aud
    raise TokenInvalid("aud missing or malformed")


def _instant(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenInvalid(f"{name} malformed")
    return float(value)


def _check_claims(
    claims: dict[str, Any],
    *,
    issuer: str | None,
    audience: str | None,
    kind: TokenKind,
    leeway: float,
    required: Collection[str],
    check_expiry: bool,
    now: float,
) -> None:
    for name in required:
        if claims.get(name) is None:
            raise TokenInvalid(f"{name} missing")
    if issuer is not None and claims.get("iss") != issuer:
        raise TokenInvalid("iss mismatch")
    if audience is not None and audience not in _audiences(claims):
        raise TokenInvalid("aud mismatch")
    exp, nbf, iat = (_instant(claims, name) for name in ("exp", "nbf", "iat"))
    if check_expiry and exp is not None and exp <= now - leeway:
        raise TokenInvalid("token expired")
    if nbf is not None and nbf > now + leeway:
        raise TokenInvalid("token not valid yet")
    if iat is not None and iat > now + leeway:
        raise TokenInvalid("iat in the future")
    sub = claims.get("sub")
    if sub is not None and (not isinstance(sub, str) or not sub):
        raise TokenInvalid("sub malformed")
    if kind is not TokenKind.ID_TOKEN and has_id_token_claims(claims):
        raise TokenInvalid("ID token presented as an access token")


async def verify(
    token: str,
    keys: KeySource,
    *,
    issuer: str | None,
    audience: str | None,
    algorithms: Collection[str] = ("RS256",),
    kind: TokenKind = TokenKind.ACCESS_TOKEN,
    leeway: float = LEEWAY,
    required: Collection[str] = REQUIRED_CLAIMS,
    secret: str | None = None,
    check_expiry: bool = True,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of ``token``; raises ``TokenInvalid`` or ``JWKSUnavailable`` (module doc).

    ``issuer``/``audience``: the exact ``iss`` and one of the ``aud`` values; ``None``
    means the issuer's tokens carry none to check (say so explicitly). ``secret``: the
    shared secret ``HS*`` tokens are keyed by, when ``algorithms`` allows them.
    ``check_expiry=False`` checks authenticity only (the caller checks ``exp`` later).
    """
    signed = _parse(token)
    header = signed.protected
    alg: str = header["alg"]
    _check_algorithm(alg, algorithms, secret)
    _check_type(header, kind)
    claims = _payload(signed)
    _check_claims(
        claims,
        issuer=issuer,
        audience=audience,
        kind=kind,
        leeway=leeway,
        required=required,
        check_expiry=check_expiry,
        now=time.time() if now is None else now,
    )
    if alg in _HMAC_ALGORITHMS:
        assert secret is not None  # _check_algorithm
        key: Key = OctKey.import_key(secret)
    else:
        key = await keys.key_for(header.get("kid"), alg)
    try:
        valid = validate_compact(signed, key, algorithms=[alg])
    except (JoseError, ValueError) as exc:
        raise TokenInvalid("signature check failed") from exc
    if not valid:
        raise TokenInvalid("bad signature")
    # ``claims`` were parsed from exactly the payload bytes the signature covers.
    return claims
