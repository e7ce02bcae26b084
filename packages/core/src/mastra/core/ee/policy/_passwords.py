"""Password rules (SPEC 3.4, 9.4, S18, S26).

The password is NFKC-normalised (never trimmed or truncated) and then checked in
this order; the first rule broken gives the message:

1. at least 8 characters -- ``Password must be at least 8 characters``;
2. at most 128 characters -- ``Password must be at most 128 characters``;
3. at most 128 bytes of UTF-8 -- ``Password must be at most 128 bytes``. Rule 2 alone
   would let 128 four-byte characters (512 bytes) reach the hash and the wire; with
   this rule the longest password is 128 ASCII characters, 64 two-byte ones such as
   ``é`` or 32 emoji, and the message names the unit that was exceeded;
4. not only whitespace or other invisible characters (eight U+3000 ideographic
   spaces are eight spaces after NFKC) -- ``Password must not be only whitespace``;
5. not one character repeated, ignoring case -- ``Password must not be a single
   repeated character``;
6. not among the most common passwords, compared after NFKC and case folding --
   ``Password is too common``.

The common passwords are ``common_passwords.txt.gz`` beside this module: the first
10,000 entries of zxcvbn 4.5.0's ranked ``passwords`` list (MIT) merged with the
first 10,000 of Django 5.2.19's ``common-passwords.txt.gz`` (BSD-3-Clause), 15,892
after de-duplication, built by ``scripts/common_passwords.py``. Two lists, because
zxcvbn files names and words ("michael", "basketball") under its other dictionaries.
The file is read once, on first use, so importing the core stays cheap.
"""

from __future__ import annotations

import functools
import gzip
import unicodedata
from importlib import resources

from ..errors import PasswordPolicyError

__all__ = [
    "MAX_PASSWORD_BYTES",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "check_password_policy",
    "common_passwords",
    "is_common_password",
    "normalise_password",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
MAX_PASSWORD_BYTES = 128

_LIST_PACKAGE = "mastra.core.ee.policy"
_LIST_FILE = "common_passwords.txt.gz"
# Categories a user cannot see; a password made only of these (and whitespace) is blank.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def normalise_password(password: str | bytes) -> str:
    """NFKC, never trimmed or truncated (Better Auth normalises the same way)."""
    if isinstance(password, bytes):
        password = password.decode("utf-8")
    return unicodedata.normalize("NFKC", password)


def _fold(password: str) -> str:
    # The list file is folded the same way (scripts/common_passwords.py).
    return unicodedata.normalize("NFKC", password).casefold()


@functools.cache
def _load_common_passwords() -> frozenset[str]:
    data = resources.files(_LIST_PACKAGE).joinpath(_LIST_FILE).read_bytes()
    _header, _, body = gzip.decompress(data).decode("utf-8").partition("\n\n")
    # One password a line; split on "\n" only (an entry may hold other line breaks).
    return frozenset(line for line in body.split("\n") if line)


def common_passwords() -> frozenset[str]:
    """The shipped list, NFKC-normalised and case-folded (loaded on the first call)."""
    return _load_common_passwords()


def is_common_password(password: str) -> bool:
    return _fold(password) in _load_common_passwords()


def check_password_policy(password: str) -> str:
    """The NFKC password, or ``PasswordPolicyError`` naming the first rule it breaks."""
    normalised = normalise_password(password)
    if len(normalised) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(normalised) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters")
    # "surrogatepass": a lone surrogate must not turn a policy check into a 500.
    if len(normalised.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise PasswordPolicyError(f"Password must be at most {MAX_PASSWORD_BYTES} bytes")
    if all(char.isspace() or unicodedata.category(char) in _INVISIBLE for char in normalised):
        raise PasswordPolicyError("Password must not be only whitespace")
    if len(set(normalised.casefold())) == 1:
        raise PasswordPolicyError("Password must not be a single repeated character")
    if is_common_password(normalised):
        raise PasswordPolicyError("Password is too common")
    return normalised
