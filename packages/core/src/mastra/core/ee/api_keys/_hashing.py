"""What the database keeps of a key's secret: HMAC-SHA256 under a server-derived key.

The HMAC key comes from ``MASTRA_AUTH_SECRET`` through HKDF (its own ``info``, so it is
no other purpose's key); its id (``kid``) is stored beside each digest. After a secret
rotation the previous secrets (``MASTRA_AUTH_PREVIOUS_SECRETS``) still verify the keys
hashed under them; new keys are hashed under the current one. A database dump alone
therefore verifies nothing: the attacker also needs the server secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from ..crypto import derive_key, key_id

__all__ = ["KeyHasher"]

_SALT = b"mastra-api-keys"
_INFO = b"api-key-secret hmac-sha256 v1"


class KeyHasher:
    """The current HMAC key (writes) and the previous ones (verify only)."""

    def __init__(self, secret: str, previous: Iterable[str] = ()) -> None:
        keys = [derive_key(s, salt=_SALT, info=_INFO) for s in (secret, *previous) if s]
        self.current_kid = key_id(keys[0])
        self._keys = {key_id(k): k for k in reversed(keys)}  # the current key wins a collision
        self._keys[self.current_kid] = keys[0]

    def __repr__(self) -> str:
        return f"KeyHasher(kid={self.current_kid!r}, kids={sorted(self._keys)!r})"

    def digest(self, secret: str, kid: str | None = None) -> str | None:
        """Hex HMAC of ``secret`` under key ``kid`` (default current); ``None`` for an unknown kid."""
        key = self._keys.get(kid or self.current_kid)
        if key is None:
            return None
        return hmac.new(key, secret.encode("ascii"), hashlib.sha256).hexdigest()

    def verify(self, secret: str, kid: str, stored: str) -> bool:
        """Constant-time: ``secret`` hashes to ``stored`` under ``kid`` (S12)."""
        digest = self.digest(secret, kid)
        return digest is not None and hmac.compare_digest(digest, stored)
