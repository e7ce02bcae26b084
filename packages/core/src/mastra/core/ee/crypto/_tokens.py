from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


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
