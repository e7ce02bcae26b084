"""Response headers and redirect-target checks shared by every studio route (SPEC 11.3, S10, S20)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote

from ..ee.settings import Settings

__all__ = ["CSP", "apply_security_headers", "login_path", "safe_local_path"]

# ``default-src 'self'`` forbids inline scripts and style attributes, so every script
# and stylesheet is a static file and page data travels in a non-executed JSON block.
CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

_FORBIDDEN_CHARS = frozenset("\\") | {chr(c) for c in range(0x20)} | {"\x7f"}


def apply_security_headers(
    headers: MutableMapping[str, str] | Any, settings: Settings, *, html: bool
) -> None:
    """CSP only matters for documents; nosniff and the referrer policy go everywhere."""
    if html:
        headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    if settings.is_production:
        headers["Strict-Transport-Security"] = "max-age=31536000"


def safe_local_path(target: str | None, fallback: str) -> str:
    """Accept only a same-origin relative path (``/x``), never ``//host`` or ``/\\host``.

    The login page's ``?redirect`` is always produced by the studio guard as a
    path, so anything absolute (even same-origin) is refused here: the stricter rule
    is simpler to reason about and loses nothing.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if any(ch in _FORBIDDEN_CHARS for ch in target):
        return fallback
    return target


def login_path(base: str, redirect: str | None) -> str:
    """``<base>login?redirect=<path>`` with the path percent-encoded as one value."""
    if not redirect:
        return f"{base}login"
    return f"{base}login?redirect={quote(redirect, safe='/')}"
