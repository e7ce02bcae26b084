"""Password hashing compatible with Better Auth (SPEC 10.2, S18).

``better_scrypt`` is a ``passlib`` handler (from ``libpass``) for Better Auth's own
format ``<saltHex>:<keyHex>``: the salt is 16 random bytes written as 32 lowercase
hex characters, and -- a Better Auth quirk we must copy to stay interoperable --
the *hex string's bytes* (not the decoded bytes) are the scrypt salt. The key is
``scrypt(NFKC(password), N=16384, r=16, p=1, dkLen=64)``.

Hashing is CPU- and memory-heavy (32 MiB per call), so the async helpers run it on
worker threads; the event loop never hashes. Those threads are one per core, not
asyncio's default pool (cores + 4): with more hashing threads than cores, a burst of
sign-ins left the event loop a small share of the CPU, connections sat idle in
transaction while it waited, and requests queued for a pooled connection past its
30 s timeout (503s in benchmarks/bench_signins.py). Hashes queue instead, at the
same total throughput. What a password may be is the core's
policy (:mod:`mastra.core.ee.policy`), shared with every other provider.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mastra.core.ee.policy import MIN_PASSWORD_LENGTH, normalise_password
from passlib.context import CryptContext
from passlib.exc import PasswordSizeError
from passlib.utils import handlers as uh

__all__ = ["PasswordHasher", "better_scrypt"]

_N, _R, _P, _DKLEN = 16384, 16, 1, 64
_MAXMEM = 128 * 1024 * 1024
_HASH_RE = re.compile(r"^[0-9a-f]{32}:[0-9a-f]{128}$")
#: Every hash and verification of the process: one thread per core (see above).
_HASHING_THREADS = os.cpu_count() or 1
_hashing = ThreadPoolExecutor(max_workers=_HASHING_THREADS, thread_name_prefix="mastra-password-hash")


class better_scrypt(uh.HasSalt, uh.GenericHandler):  # type: ignore[misc]
    """``passlib`` handler for Better Auth's ``saltHex:keyHex`` scrypt hashes."""

    name = "better_scrypt"
    setting_kwds = ("salt",)
    checksum_chars = uh.LOWER_HEX_CHARS
    checksum_size = 2 * _DKLEN
    salt_chars = uh.LOWER_HEX_CHARS
    min_salt_size = max_salt_size = default_salt_size = 32

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        if isinstance(hash, bytes):
            try:
                hash = hash.decode("ascii")
            except UnicodeDecodeError:
                return False
        return bool(_HASH_RE.match(hash))

    @classmethod
    def from_string(cls, hash: str | bytes, **kwds: Any) -> better_scrypt:
        if isinstance(hash, bytes):
            hash = hash.decode("ascii")
        if not _HASH_RE.match(hash):
            raise uh.exc.InvalidHashError(cls)
        salt, checksum = hash.split(":")
        return cls(salt=salt, checksum=checksum, **kwds)

    def to_string(self) -> str:
        return f"{self.salt}:{self.checksum}"

    @classmethod
    def _generate_salt(cls) -> str:
        return secrets.token_hex(16)

    def _calc_checksum(self, secret: str | bytes) -> str:
        password = normalise_password(secret).encode("utf-8")
        key = hashlib.scrypt(
            password, salt=self.salt.encode("ascii"), n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM
        )
        return key.hex()


class PasswordHasher:
    """A ``CryptContext`` over ``better_scrypt`` and argon2id plus a dummy hash.

    ``deprecated="auto"`` marks every non-default scheme as deprecated, so a
    successful verify against an old scheme yields a replacement hash.
    """

    def __init__(self, scheme: str = "better_scrypt") -> None:
        if scheme not in {"better_scrypt", "argon2"}:
            raise ValueError(f"Unknown password_scheme {scheme!r}; use 'better_scrypt' or 'argon2'")
        self.scheme = scheme
        self.context = CryptContext(
            schemes=[better_scrypt, "argon2"],
            default=scheme,
            deprecated="auto",
            argon2__type="ID",
        )
        self._dummy: str | None = None

    # -- blocking primitives (worker thread only) ---------------------------------------

    def hash_sync(self, password: str) -> str:
        return str(self.context.hash(normalise_password(password)))

    def verify_and_update_sync(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """``(ok, new_hash_or_None)``; an unusable or missing hash burns a dummy verify."""
        password = normalise_password(password)
        if self._dummy is None:
            self._dummy = str(self.context.hash(secrets.token_urlsafe(24)))
        try:
            if not stored or self.context.identify(stored) is None:
                self.context.verify(password, self._dummy)
                return False, None
            ok, new_hash = self.context.verify_and_update(password, stored)
            return bool(ok), new_hash
        except (PasswordSizeError, ValueError):
            # Oversized or otherwise unusable input: same work, same answer.
            self.context.verify("x" * MIN_PASSWORD_LENGTH, self._dummy)
            return False, None

    # -- async wrappers ------------------------------------------------------------------

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(_hashing, self.hash_sync, password)

    async def verify_and_update(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        return await asyncio.get_running_loop().run_in_executor(
            _hashing, self.verify_and_update_sync, password, stored
        )

    async def warm_up(self) -> None:
        """Compute the dummy hash ahead of the first sign-in (keeps the first timing fair)."""
        await self.verify_and_update(secrets.token_urlsafe(12), None)
