"""Keys of the keyed audit chain (SPEC S28), derived from the server secret.

Each secret yields three 256-bit keys through HKDF-SHA256 (salt ``mastra-audit``), one
per purpose so that no MAC made for one purpose can be replayed as another:

* ``chain`` — the event hash, HMAC-SHA256 over the event's JCS bytes;
* ``anchor`` — the retention anchor ``{seq, hash}`` left by ``delete_before``;
* ``checkpoint`` — signed checkpoints ``{seq, hash, time}`` kept outside the database.

The key id (``kid``) is the first 8 hex of SHA-256 of the chain key, as the session
sealer does; rows and checkpoints carry it so the right key is found after rotation.
The first secret is current (it writes); previous secrets only verify.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..crypto import constant_time_equals, derive_key, key_id
from ._canonical import canonical_json

__all__ = ["UNKEYED", "ChainKey", "ChainKeys"]

_SALT = b"mastra-audit"
_INFO_CHAIN = b"audit-chain hmac-sha256 v1"
_INFO_ANCHOR = b"audit-anchor hmac-sha256 v1"
_INFO_CHECKPOINT = b"audit-checkpoint hmac-sha256 v1"


def _derive(secret: str, info: bytes) -> bytes:
    return derive_key(secret, salt=_SALT, info=info)


@dataclass(frozen=True, slots=True, repr=False)
class ChainKey:
    """The three audit keys of one secret. ``repr`` shows the key id only."""

    kid: str
    chain: bytes
    anchor: bytes
    checkpoint: bytes

    @classmethod
    def from_secret(cls, secret: str) -> ChainKey:
        chain = _derive(secret, _INFO_CHAIN)
        return cls(
            kid=key_id(chain),
            chain=chain,
            anchor=_derive(secret, _INFO_ANCHOR),
            checkpoint=_derive(secret, _INFO_CHECKPOINT),
        )

    def __repr__(self) -> str:
        return f"ChainKey(kid={self.kid!r})"

    def sign_anchor(self, seq: int, hash: str) -> str:
        return _mac(self.anchor, {"seq": seq, "hash": hash})

    def sign_checkpoint(self, payload: dict[str, Any]) -> str:
        return _mac(self.checkpoint, payload)


def _mac(key: bytes, payload: dict[str, Any]) -> str:
    return hmac.digest(key, canonical_json(payload), hashlib.sha256).hex()


class ChainKeys:
    """A keyring: ``current`` (``None`` = no secret, the legacy unkeyed chain) plus
    every previous key, looked up by key id."""

    def __init__(self, current: ChainKey | None, previous: Iterable[ChainKey] = ()) -> None:
        self.current = current
        self._by_kid: dict[str, ChainKey] = {}
        for key in (current, *previous):
            if key is not None:
                self._by_kid.setdefault(key.kid, key)

    @classmethod
    def from_secrets(cls, secret: str | None, previous: Iterable[str] = ()) -> ChainKeys:
        """Previous secrets are kept even without a current one: a host that lost its
        secret can still verify what was written under the old ones."""
        return cls(
            ChainKey.from_secret(secret) if secret else None,
            [ChainKey.from_secret(s) for s in previous if s],
        )

    @classmethod
    def from_settings(cls, settings: Any) -> ChainKeys:
        """``MASTRA_AUTH_SECRET`` and ``MASTRA_AUTH_PREVIOUS_SECRETS``."""
        secret = getattr(settings, "secret", None)
        previous = [_plain(s) for s in getattr(settings, "auth_previous_secrets", None) or ()]
        return cls.from_secrets(secret, previous)

    @property
    def keyed(self) -> bool:
        return self.current is not None

    @property
    def kids(self) -> list[str]:
        return list(self._by_kid)

    def get(self, kid: str | None) -> ChainKey | None:
        return self._by_kid.get(kid) if kid else None

    def anchor_signature(self, seq: int, hash: str) -> dict[str, Any]:
        """The ``kid`` and ``mac`` a retention anchor gets from the current key
        (empty without one: the anchor stays unsigned, as legacy anchors are)."""
        key = self.current
        return {} if key is None else {"kid": key.kid, "mac": key.sign_anchor(seq, hash)}

    def anchor_ok(self, anchor: dict[str, Any]) -> bool | None:
        """``None`` for an unsigned (legacy) anchor, else whether its MAC verifies."""
        kid, mac = anchor.get("kid"), anchor.get("mac")
        if not kid or not mac:
            return None
        key = self.get(str(kid))
        if key is None:
            return False
        return constant_time_equals(key.sign_anchor(int(anchor["seq"]), str(anchor["hash"])), str(mac))

    def __repr__(self) -> str:
        current = self.current.kid if self.current else None
        return f"ChainKeys(current={current!r}, kids={self.kids!r})"


def _plain(value: Any) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter is not None else value)


UNKEYED = ChainKeys(None)
