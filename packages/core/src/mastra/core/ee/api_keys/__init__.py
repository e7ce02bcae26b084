"""The ``api_keys`` capability: machine access with keys owned by users or service accounts.

* :mod:`._format` — the key format, its regex and checksum (:func:`looks_like_api_key`);
* :mod:`._hashing` — what the database keeps of a secret (HMAC under a derived key);
* :mod:`._store`, :mod:`._provider` — the ``sql`` provider, the core's default;
* :mod:`._models` — records and the typed refusal.

docs/api-keys.md describes the format and the semantics.
"""

from ._format import (
    API_KEY_PATTERN,
    API_KEY_PREFIX,
    API_KEY_REGEX,
    ParsedKey,
    format_key,
    generate_key,
    looks_like_api_key,
    parse_key,
)
from ._hashing import KeyHasher
from ._models import (
    REFUSAL_MESSAGES,
    ApiKey,
    ApiKeyRefusal,
    CreatedApiKey,
    InvalidApiKey,
    OwnerType,
    RefusalReason,
    ServiceAccount,
)
from ._provider import SQLApiKeyProvider, ip_allowed, parse_allowlist
from ._store import API_KEYS_TABLE, SERVICE_ACCOUNTS_TABLE

__all__ = [
    "API_KEYS_TABLE",
    "API_KEY_PATTERN",
    "API_KEY_PREFIX",
    "API_KEY_REGEX",
    "REFUSAL_MESSAGES",
    "SERVICE_ACCOUNTS_TABLE",
    "ApiKey",
    "ApiKeyRefusal",
    "CreatedApiKey",
    "InvalidApiKey",
    "KeyHasher",
    "OwnerType",
    "ParsedKey",
    "RefusalReason",
    "SQLApiKeyProvider",
    "ServiceAccount",
    "format_key",
    "generate_key",
    "ip_allowed",
    "looks_like_api_key",
    "parse_allowlist",
    "parse_key",
]
