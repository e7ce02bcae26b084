from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def new_secret(nbytes: int = 32) -> str:
    """URL-safe base64 (no padding) of ``nbytes`` random bytes; 256 bits by default."""
    return base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode()


def new_handle() -> str:
    """Public 128-bit session handle (hex); safe to show, never a credential."""
    return secrets.token_hex(16)


def sha256_hex(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


def derive_key(secret: str | bytes, *, salt: str | bytes, info: str | bytes) -> bytes:
    """A 256-bit key for one purpose from a secret: HKDF-SHA256 with ``salt`` and ``info``.

    Every key the project derives from ``MASTRA_AUTH_SECRET`` (session sealing, SSO state,
    audit chain, checkpoints) comes through here with its own ``info``, so no key made
    for one purpose can be used for another.
    """

    def raw(value: str | bytes) -> bytes:
        return value.encode("utf-8") if isinstance(value, str) else value

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=raw(salt), info=raw(info)).derive(raw(secret))


def key_id(key: bytes) -> str:
    """The public id of a derived key: the first 8 hex of its SHA-256."""
    return sha256_hex(key)[:8]


#: Claims only OIDC ID tokens carry (OIDC Core 2, 3.1.3.6).
ID_TOKEN_CLAIMS = ("nonce", "at_hash")


def has_id_token_claims(claims: Mapping[str, Any]) -> bool:
    """True when verified JWT ``claims`` are an ID token's: such a token is never a
    bearer access token, however it is addressed or whoever signed it (S24)."""
    return any(name in claims for name in ID_TOKEN_CLAIMS)
