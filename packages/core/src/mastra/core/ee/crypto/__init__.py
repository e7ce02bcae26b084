"""Sealing (AES-256-GCM with rotation), cookie building and secret helpers."""

from ._cookies import CookieSpec, clear_cookie, cookie_name, parse_cookie_header, set_cookie
from ._sealing import Sealer, SealError
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
    "ID_TOKEN_CLAIMS",
    "CookieSpec",
    "SealError",
    "Sealer",
    "clear_cookie",
    "constant_time_equals",
    "cookie_name",
    "derive_key",
    "has_id_token_claims",
    "key_id",
    "new_handle",
    "new_secret",
    "parse_cookie_header",
    "set_cookie",
    "sha256_hex",
]
