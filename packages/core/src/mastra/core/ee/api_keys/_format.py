"""The API key format (docs/api-keys.md): ``mk_<env>_<keyid>_<secret><checksum>``.

* ``mk_`` — a fixed prefix a leak scanner (GitHub secret scanning, gitleaks) keys on;
* ``<env>`` — the deployment's environment (``live``, ``test``, ``dev``: 1–12 of
  ``[a-z0-9]``), so a key pasted into the wrong deployment is recognisable at a glance;
* ``<keyid>`` — 16 base62 characters, public: it names the key in lists, logs and audit
  events and finds its row in one index look-up;
* ``<secret>`` — 43 base62 characters from :mod:`secrets` (62**43 > 2**256);
* ``<checksum>`` — CRC32 of everything before it, 6 base62 characters, zero-padded.

The checksum is not a security measure (the secret is): it lets a scanner, or this
server before it touches the database, tell a real key from random text that happens
to fit the pattern, offline.
"""

from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass

__all__ = [
    "API_KEY_PATTERN",
    "API_KEY_PREFIX",
    "API_KEY_REGEX",
    "CHECKSUM_LENGTH",
    "KEY_ID_LENGTH",
    "SECRET_LENGTH",
    "ParsedKey",
    "format_key",
    "generate_key",
    "looks_like_api_key",
    "new_key_id",
    "parse_key",
    "validate_environment",
]

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
API_KEY_PREFIX = "mk_"
KEY_ID_LENGTH = 16
SECRET_LENGTH = 43  # 43 * log2(62) = 256.03 bits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: every CRC32 fits

#: The documented pattern (docs/api-keys.md). Word boundaries let a scanner find keys
#: inside text; :func:`parse_key` matches the whole string.
API_KEY_PATTERN = (
    r"\bmk_(?P<env>[a-z0-9]{1,12})_(?P<key_id>[0-9A-Za-z]{16})_"
    r"(?P<secret>[0-9A-Za-z]{43})(?P<checksum>[0-9A-Za-z]{6})\b"
)
API_KEY_REGEX = re.compile(API_KEY_PATTERN)
_ENV = re.compile(r"[a-z0-9]{1,12}")
# The longest text worth matching: anything longer is refused before the regex runs.
_MAX_LENGTH = len(API_KEY_PREFIX) + 12 + 1 + KEY_ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH


@dataclass(frozen=True, slots=True, repr=False)
class ParsedKey:
    """A presented key taken apart; ``repr`` never shows the secret."""

    environment: str
    key_id: str
    secret: str

    def __repr__(self) -> str:
        return f"ParsedKey(environment={self.environment!r}, key_id={self.key_id!r})"


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def checksum(body: str) -> str:
    """CRC32 of ``body`` (``mk_<env>_<keyid>_<secret>``) in 6 base62 characters."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def validate_environment(environment: str) -> str:
    """``environment`` if it may appear in a key (1–12 of ``[a-z0-9]``), else ``ValueError``."""
    if not _ENV.fullmatch(environment):
        raise ValueError(f"API key environment {environment!r} must be 1-12 characters of [a-z0-9]")
    return environment


def new_key_id() -> str:
    return _random_base62(KEY_ID_LENGTH)


def format_key(environment: str, key_id: str, secret: str) -> str:
    body = f"{API_KEY_PREFIX}{environment}_{key_id}_{secret}"
    return body + checksum(body)


def generate_key(environment: str, key_id: str | None = None) -> tuple[str, ParsedKey]:
    """A new key's full text (shown once) and its parts."""
    parts = ParsedKey(
        validate_environment(environment), key_id or new_key_id(), _random_base62(SECRET_LENGTH)
    )
    return format_key(parts.environment, parts.key_id, parts.secret), parts


def parse_key(text: str) -> ParsedKey | None:
    """The parts of a well-formed key whose checksum is right; ``None`` otherwise."""
    if len(text) > _MAX_LENGTH or not text.startswith(API_KEY_PREFIX):
        return None
    match = API_KEY_REGEX.fullmatch(text)
    if match is None:
        return None
    body = text[:-CHECKSUM_LENGTH]
    if checksum(body) != match["checksum"]:
        return None
    return ParsedKey(match["env"], match["key_id"], match["secret"])


def looks_like_api_key(text: str) -> bool:
    """Offline: ``text`` has the key format and its checksum is right (a scanner's test)."""
    return parse_key(text) is not None
