"""WHERE THE WORKOS WEBHOOK IS VERIFIED: ``WorkOS-Signature`` checking (SPEC 10.1).

Header ``WorkOS-Signature: t=<unix ms>, v1=<hex>``; ``v1`` is the hex HMAC-SHA256 of
``"<t>.<raw body>"`` under the endpoint secret. A request is rejected when the header
is missing or malformed, ``t`` is not a number, ``|now - t| > 180 s`` (replays of old
deliveries), or the HMAC differs (constant-time comparison).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

__all__ = ["TOLERANCE_MS", "SignatureCheck", "sign", "verify_signature"]

TOLERANCE_MS = 180_000


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    ok: bool
    reason: str | None = None  # for the audit log: missing, malformed, stale, mismatch

    def __bool__(self) -> bool:
        return self.ok


def _parse(header: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip():
            pairs.setdefault(key.strip(), value.strip())
    return pairs


def _hmac(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()


def sign(body: bytes, secret: str, *, timestamp_ms: int | None = None) -> str:
    """The header value WorkOS would send for ``body`` (used by tests and emulators)."""
    t = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return f"t={t}, v1={_hmac(secret, t, body)}"


def verify_signature(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    tolerance_ms: int = TOLERANCE_MS,
    now_ms: int | None = None,
) -> SignatureCheck:
    if not header:
        return SignatureCheck(False, "missing")
    pairs = _parse(header)
    t, v1 = pairs.get("t"), pairs.get("v1")
    if not t or not v1 or not t.isascii() or not t.isdigit():
        return SignatureCheck(False, "malformed")
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    if abs(now - int(t)) > tolerance_ms:
        return SignatureCheck(False, "stale")
    expected = _hmac(secret, t, body)
    if not hmac.compare_digest(expected.encode("ascii"), v1.encode("utf-8", "replace")):
        return SignatureCheck(False, "mismatch")
    return SignatureCheck(True)
