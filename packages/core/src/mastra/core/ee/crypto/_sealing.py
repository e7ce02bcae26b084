"""AES-256-GCM sealing with key rotation (SPEC 8.3).

Value: ``v1.<kid>.<base64url-no-padding(nonce[12] ‖ ciphertext ‖ tag[16])>``.
Key = HKDF-SHA256(secret, salt, info, 32 bytes); kid = first 8 hex of SHA-256(key).
The first secret seals; every secret may unseal (rotation).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import SealError, SecretTooShort
from ._tokens import derive_key, key_id

# An error message, not a password:
SECRET_TOO_SHORT = "Session secret must be at least 32 bytes (256 bits) for AES-256-GCM encryption"  # noqa: S105
_VERSION = "v1"
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_NONCE = 12


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or not _B64URL.issuperset(text):
        raise SealError("bad base64")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SealError("bad base64") from exc
    # One value, one spelling: the unused low bits of the last character must be zero,
    # so no second text opens the same seal (the decoder ignores those bits).
    if _b64encode(data) != text:
        raise SealError("non-canonical base64")
    return data


class Sealer:
    def __init__(
        self,
        secrets: str | Sequence[str],
        *,
        info: str = "aes-256-gcm",
        salt: str = "mastra-session",
    ) -> None:
        secret_list = [secrets] if isinstance(secrets, str) else list(secrets)
        if not secret_list:
            raise SecretTooShort(SECRET_TOO_SHORT)
        self._keys: dict[str, AESGCM] = {}
        self.current_kid = ""
        for index, secret in enumerate(secret_list):
            if not isinstance(secret, str) or len(secret) < 32:
                raise SecretTooShort(SECRET_TOO_SHORT)
            key = derive_key(secret, salt=salt, info=info)
            kid = key_id(key)
            self._keys.setdefault(kid, AESGCM(key))
            if index == 0:
                self.current_kid = kid

    def seal(self, plaintext: bytes, *, aad: str = "") -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._keys[self.current_kid].encrypt(nonce, plaintext, aad.encode())
        return f"{_VERSION}.{self.current_kid}.{_b64encode(nonce + sealed)}"

    def unseal(self, value: str, *, aad: str = "") -> bytes:
        parts = value.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            raise SealError("unknown format")
        aes = self._keys.get(parts[1])
        if aes is None:
            raise SealError("unknown key id")
        blob = _b64decode(parts[2])
        if len(blob) < _NONCE + 16:
            raise SealError("truncated")
        try:
            return aes.decrypt(blob[:_NONCE], blob[_NONCE:], aad.encode())
        except InvalidTag as exc:
            raise SealError("authentication failed") from exc

    def kid_of(self, value: str) -> str | None:
        parts = value.split(".")
        return parts[1] if len(parts) == 3 else None

    def seal_json(self, data: Any, *, aad: str = "") -> str:
        return self.seal(json.dumps(data, separators=(",", ":")).encode(), aad=aad)

    def unseal_json(self, value: str, *, aad: str = "") -> Any:
        raw = self.unseal(value, aad=aad)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise SealError("not JSON") from exc
