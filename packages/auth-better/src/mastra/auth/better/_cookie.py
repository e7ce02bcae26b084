"""Better Auth's signed session cookie (SPEC 10.2).

Value on the wire: ``quote(token + "." + base64(HMAC-SHA256(secret, token)), safe="")``
(Better Auth uses ``encodeURIComponent``; for base64 and alphanumeric tokens the two
encodings agree). The cookie is named ``<prefix>.session_token`` with Better Auth's
own ``__Secure-`` rule for https origins, not the project's ``__Host-`` rule.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, unquote

from mastra.core.ee.crypto import parse_cookie_header

__all__ = ["BetterCookie", "sign_token", "unsign_value"]

_SIG_LENGTH = 44  # standard padded base64 of 32 bytes


def _signature(token: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_token(token: str, secret: str) -> str:
    """The percent-encoded ``token.sig`` cookie value."""
    return quote(f"{token}.{_signature(token, secret)}", safe="")


def unsign_value(value: str | None, secret: str) -> str | None:
    """The token of a signed cookie value (encoded or not), or ``None`` if forged/malformed."""
    if not value or len(value) > 4096:
        return None
    decoded = unquote(value) if "%" in value else value
    token, dot, signature = decoded.rpartition(".")
    if not dot or not token or len(signature) != _SIG_LENGTH:
        return None
    expected = _signature(token, secret)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return None
    return token


@dataclass(frozen=True, slots=True)
class BetterCookie:
    """Names and ``Set-Cookie`` strings of the Better Auth session cookie."""

    prefix: str = "better-auth"
    secure: bool = False

    @property
    def name(self) -> str:
        base = f"{self.prefix}.session_token"
        return f"__Secure-{base}" if self.secure else base

    @property
    def names(self) -> tuple[str, ...]:
        """Both spellings: a cookie set over https is read even when we think we are on http."""
        base = f"{self.prefix}.session_token"
        return (f"__Secure-{base}", base) if self.secure else (base, f"__Secure-{base}")

    def read(self, cookie_header: str | None) -> str | None:
        cookies = parse_cookie_header(cookie_header)
        for name in self.names:
            if cookies.get(name):
                return cookies[name]
        return None

    def set_header(self, signed_value: str, max_age: int) -> str:
        header = f"{self.name}={signed_value}; Max-Age={max(0, int(max_age))}; Path=/; HttpOnly; SameSite=Lax"
        return header + "; Secure" if self.secure else header

    def clear_headers(self) -> list[str]:
        headers = [
            f"{self.prefix}.{suffix}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
            for suffix in ("session_token", "session_data", "dont_remember")
        ]
        if self.secure:
            headers = [f"__Secure-{h}; Secure" for h in headers]
        return headers
