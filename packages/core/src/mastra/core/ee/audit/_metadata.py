"""Audit metadata hygiene: secret scrubbing (S13) and JSON normalisation.

Metadata is hashed into the chain, stored as JSON text and read back, so it must
round-trip exactly: values are reduced to JSON types JCS can represent. Secret-looking
keys are redacted as a defence in depth — callers are already required never to put
passwords, tokens, cookies or secrets in metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = ["REDACTED", "has_secret_keys", "is_secret_key", "normalise_metadata", "scrub_metadata"]

REDACTED = "[REDACTED]"
_MAX_SAFE_INT = 2**53 - 1
_MAX_DEPTH = 32
# Substrings of a lower-cased key with ``-``/``_``/spaces removed.
_SECRET_MARKERS = (
    "password",
    "passwd",
    "passphrase",
    "token",
    "cookie",
    "secret",
    "authorization",
    "apikey",
    "privatekey",
    "credential",
    "sessionid",
    "setcookie",
)


@lru_cache(maxsize=4096)  # metadata keys repeat endlessly; this runs for every appended event
def is_secret_key(key: str) -> bool:
    """``refreshToken``, ``client_secret``, ``Set-Cookie``, ``API_KEY``... look secret."""
    squashed = key.lower().replace("-", "").replace("_", "").replace(" ", "")
    return any(marker in squashed for marker in _SECRET_MARKERS)


def has_secret_keys(value: Any, depth: int = 0) -> bool:
    """True if any key at any depth looks secret (cheap: no copy)."""
    if depth > _MAX_DEPTH:
        return True  # too deep to vouch for: let the scrubber truncate it
    if isinstance(value, Mapping):
        return any(is_secret_key(str(k)) or has_secret_keys(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_secret_keys(item, depth + 1) for item in value)
    return False


def scrub_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``metadata`` with every secret-looking key's value replaced by
    ``[REDACTED]``, recursively through nested objects and lists."""
    return _scrub_mapping(metadata, 0)


def _scrub_mapping(mapping: Mapping[str, Any], depth: int) -> dict[str, Any]:
    return {
        str(key): REDACTED if is_secret_key(str(key)) else _scrub_value(value, depth + 1)
        for key, value in mapping.items()
    }


def _scrub_value(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return "[TRUNCATED]"
    if isinstance(value, Mapping):
        return _scrub_mapping(value, depth)
    if isinstance(value, list | tuple):
        return [_scrub_value(item, depth + 1) for item in value]
    return value


def _valid_text(value: str) -> str:
    # Lone surrogates cannot be stored as UTF-8 or hashed by JCS: replace them.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return str(value)


def normalise_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Scrubbed metadata reduced to values that survive JSON storage and JCS hashing.

    Keys become strings; tuples become lists; non-finite floats, integers beyond
    ±(2**53 - 1) and non-JSON objects (datetimes, UUIDs...) become their ``str``; lone
    surrogates are replaced; nesting deeper than 32 levels is cut off. Whole-number
    floats stay floats: they round-trip through JSON text, and JCS hashes them as
    integers either way. One pass: this runs for every appended event.
    """
    return _normalise_mapping(metadata, 1)


def _normalise_mapping(mapping: Mapping[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = key if type(key) is str and key.isascii() else _valid_text(str(key))
        out[name] = REDACTED if is_secret_key(name) else _normalise_value(value, depth + 1)
    return out


def _normalise_value(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        return value if value.isascii() else _valid_text(value)
    if value is None or kind is bool:
        return value
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, int):
        return int(value) if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if depth > _MAX_DEPTH:
        return "[TRUNCATED]"
    if isinstance(value, Mapping):
        return _normalise_mapping(value, depth)
    if isinstance(value, list | tuple):
        return [_normalise_value(item, depth + 1) for item in value]
    return _valid_text(str(value))
