"""RSA signing keys of the emulator (rotatable) and access-token minting."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class SigningKey:
    kid: str
    private: RSAKey

    @classmethod
    def generate(cls) -> SigningKey:
        kid = f"sso_oidc_key_pair_{secrets.token_hex(8)}"
        return cls(kid, RSAKey.generate_key(2048, parameters={"kid": kid}))

    def jwk(self) -> dict[str, Any]:
        return {**self.private.as_dict(private=False), "alg": "RS256", "use": "sig", "kid": self.kid}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": self.kid}, claims, self.private)


def now() -> int:
    return int(time.time())
