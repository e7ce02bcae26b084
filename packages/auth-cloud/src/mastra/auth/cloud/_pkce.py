"""PKCE and state encoding of the Mastra Cloud login (SPEC 10.3)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from mastra.core.ee.crypto import new_secret

__all__ = ["decode_state", "encode_state", "new_verifier", "s256_challenge", "safe_return_to"]


def new_verifier() -> str:
    """base64url of 32 random bytes (43 characters, within RFC 7636's 43–128)."""
    return new_secret(32)


def s256_challenge(verifier: str) -> str:
    return str(create_s256_code_challenge(verifier))


def safe_return_to(value: str | None) -> str:
    """Only same-site relative paths; the host validates its own target separately."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return "/"
    return value


def encode_state(csrf: str, return_to: str) -> str:
    raw = json.dumps({"csrf": csrf, "returnTo": return_to}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_state(state: str) -> dict[str, Any] | None:
    """``{csrf, returnTo}`` or ``None`` for anything malformed (bounded input size)."""
    if not state or len(state) > 4096:
        return None
    try:
        raw = base64.urlsafe_b64decode(state + "=" * (-len(state) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str) or not data["csrf"]:
        return None
    return_to = data.get("returnTo")
    data["returnTo"] = safe_return_to(return_to if isinstance(return_to, str) else None)
    return data
