"""Better Auth's signed session cookie (SPEC 10.2).

Value on the wire: ``quote(token + "." + base64(HMAC-SHA256(secret, token)), safe="")``
(Better Auth uses ``encodeURIComponent``; for base64 and alphanumeric tokens the two
encodings agree). The cookie is named ``<prefix>.session_token`` with Better Auth's
own ``__Secure-`` prefix, not the project's ``__Host-`` one; whether it is ``Secure``
is the project's one S8 rule (``uses_secure_cookies``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, unquote

from mastra.core.ee.crypto import parse_cookie_header, uses_secure_cookies
from mastra.core.ee.settings import Settings

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
    """Names and ``Set-Cookie`` strings of the Better Auth session cookie.

    ``secure`` is the ``Secure`` attribute. The name carries Better Auth's ``__Secure-``
    prefix when the server that issues the cookie is secure (``secure_name``; by
    default the same as ``secure``): in remote mode that is the Better Auth server,
    whose cookies reach the browser unchanged and come back to it.
    """

    prefix: str = "better-auth"
    secure: bool = False
    secure_name: bool | None = None

    @classmethod
    def create(cls, prefix: str, settings: Settings | None, *, server_url: str | None = None) -> BetterCookie:
        """``Secure`` by the S8 rule (production, or an https public URL); with the
        ``server_url`` of a remote Better Auth server, named by that server's rule."""
        settings = settings if settings is not None else Settings()
        secure = uses_secure_cookies(production=settings.is_production, public_url=settings.public_url)
        if server_url is None:
            return cls(prefix, secure)
        server_secure = server_url.strip().lower().startswith("https://")
        # Browsers drop a __Secure- cookie that is not Secure.
        return cls(prefix, secure or server_secure, secure_name=server_secure)

    @property
    def _prefixed(self) -> bool:
        return self.secure if self.secure_name is None else self.secure_name

    @property
    def name(self) -> str:
        base = f"{self.prefix}.session_token"
        return f"__Secure-{base}" if self._prefixed else base

    @property
    def names(self) -> tuple[str, ...]:
        """Both spellings: a cookie set over https is read even when we think we are on http."""
        base = f"{self.prefix}.session_token"
        return (f"__Secure-{base}", base) if self._prefixed else (base, f"__Secure-{base}")

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
        name_prefix = "__Secure-" if self._prefixed else ""
        secure = "; Secure" if self.secure else ""
        return [
            f"{name_prefix}{self.prefix}.{suffix}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}"
            for suffix in ("session_token", "session_data", "dont_remember")
        ]
