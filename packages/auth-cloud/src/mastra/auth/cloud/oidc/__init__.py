"""Generic OpenID Connect: discovery, code + PKCE + nonce login, ID-token validation,
JWKS (the core key cache), sealed-cookie sessions and RP-initiated logout."""

from ._discovery import DiscoveryError, OIDCMetadata
from ._provider import OIDCAuth
from ._tokens import validate_id_token
from ._users import claims_to_user

__all__ = [
    "DiscoveryError",
    "OIDCAuth",
    "OIDCMetadata",
    "claims_to_user",
    "validate_id_token",
]
