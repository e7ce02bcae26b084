"""Generic OpenID Connect: discovery, code + PKCE + nonce login, ID-token validation,
JWKS cache with rotation, sealed-cookie sessions and RP-initiated logout."""

from ._discovery import DiscoveryError, OIDCMetadata, UnknownKeyError
from ._provider import OIDCAuth
from ._tokens import TokenError, validate_jwt
from ._users import claims_to_user

__all__ = [
    "DiscoveryError",
    "OIDCAuth",
    "OIDCMetadata",
    "TokenError",
    "UnknownKeyError",
    "claims_to_user",
    "validate_jwt",
]
