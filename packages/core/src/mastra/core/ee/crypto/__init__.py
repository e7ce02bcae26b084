"""Sealing (AES-256-GCM with rotation), cookie building, secret helpers and JWT verification."""

from ..errors import SealError
from ._cookies import (
    CookieSpec,
    clear_cookie,
    cookie_spec,
    parse_cookie_header,
    set_cookie,
    uses_secure_cookies,
)
from ._jwks import JWKSCache, select_key
from ._jwt import (
    AT_JWT,
    LEEWAY,
    SUPPORTED_ALGORITHMS,
    JWKSUnavailable,
    KeySource,
    TokenInvalid,
    TokenKind,
    token_type,
    unverified_claims,
    verify,
)
from ._sealing import Sealer
from ._tokens import (
    ID_TOKEN_CLAIMS,
    constant_time_equals,
    derive_key,
    has_id_token_claims,
    key_id,
    new_handle,
    new_secret,
    sha256_hex,
)

__all__ = [
    "AT_JWT",
    "ID_TOKEN_CLAIMS",
    "LEEWAY",
    "SUPPORTED_ALGORITHMS",
    "CookieSpec",
    "JWKSCache",
    "JWKSUnavailable",
    "KeySource",
    "SealError",
    "Sealer",
    "TokenInvalid",
    "TokenKind",
    "clear_cookie",
    "constant_time_equals",
    "cookie_spec",
    "derive_key",
    "has_id_token_claims",
    "key_id",
    "new_handle",
    "new_secret",
    "parse_cookie_header",
    "select_key",
    "set_cookie",
    "sha256_hex",
    "token_type",
    "unverified_claims",
    "uses_secure_cookies",
    "verify",
]
