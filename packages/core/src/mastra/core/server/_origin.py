"""Public origin, client IP and redirect validation (SPEC 9.1, S10).

All three read proxy headers only when ``trusted_proxy_count`` says a proxy sits in
front: a client can forge ``X-Forwarded-*`` otherwise.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from ..ee.settings import Settings

__all__ = [
    "client_ip",
    "is_allowed_origin",
    "normalise_origin",
    "origin_of",
    "public_origin",
    "validate_redirect",
]

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lower-cased with default ports dropped; ``None`` if not http(s)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in {("http", 80), ("https", 443)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def public_origin(request: HTTPConnection, settings: Settings) -> str:
    """``MASTRA_PUBLIC_URL``, else forwarded headers behind trusted proxies, else Host."""
    if settings.public_url:
        return normalise_origin(settings.public_url) or settings.public_url.rstrip("/")
    scheme = request.url.scheme
    host = request.headers.get("host") or "localhost"
    if settings.trusted_proxy_count > 0:
        proto = _first(request.headers.get("x-forwarded-proto"))
        if proto in {"http", "https"}:
            scheme = proto
        host = _first(request.headers.get("x-forwarded-host")) or host
    if scheme in {"ws", "wss"}:
        scheme = "https" if scheme == "wss" else "http"
    return normalise_origin(f"{scheme}://{host}") or f"{scheme}://localhost"


def client_ip(request: HTTPConnection, settings: Settings) -> str | None:
    """The socket peer, or the N-th address from the right of ``X-Forwarded-For``."""
    peer = request.client.host if request.client else None
    count = settings.trusted_proxy_count
    if count <= 0:
        return peer
    chain = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
    if len(chain) < count:
        # Fewer hops than configured proxies: the left-most is the best we know.
        candidate = chain[0] if chain else peer
    else:
        candidate = chain[-count]
    try:
        return str(ipaddress.ip_address(candidate)) if candidate else peer
    except ValueError:
        return peer


def origin_of(url: str | None) -> str | None:
    return normalise_origin(url) if url else None


def is_allowed_origin(origin: str | None, request: HTTPConnection, settings: Settings) -> bool:
    """Equals ``MASTRA_PUBLIC_URL``'s origin or one of ``trusted_origins``.

    Without a public URL (development) the request's own origin is accepted, and only
    when its host is an allowed one (S22): an origin made from an arbitrary ``Host``
    would let a DNS-rebinding page vouch for itself.
    """
    if not origin:
        return False
    candidate = normalise_origin(origin)
    if candidate is None:
        return False
    if any(normalise_origin(t) == candidate for t in settings.trusted_origins):
        return True
    if settings.public_url:
        return candidate == public_origin(request, settings)
    from ._hosts import AllowedHosts

    return candidate == public_origin(request, settings) and AllowedHosts.from_settings(settings).allows(
        urlsplit(candidate).netloc
    )


def _has_bad_characters(target: str) -> bool:
    return "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)


def validate_redirect(target: str | None, request: HTTPConnection, settings: Settings) -> str:
    """Return ``target`` when it is a safe post-login/logout destination, else ``/``.

    Accepted: a relative path (``/x`` but not ``//x`` or ``/\\x``); an absolute http(s)
    URL on the public origin or a trusted origin; in dev, http(s) on localhost,
    127.0.0.1 or [::1]. User-info, control characters and backslashes are refused.
    """
    if not target or _has_bad_characters(target) or target != target.strip():
        return "/"
    if target.startswith("/"):
        if target.startswith("//"):
            return "/"
        return target
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "/"
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return "/"
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        return "/"
    origin = normalise_origin(target)
    if origin is None:
        return "/"
    if is_allowed_origin(origin, request, settings):
        return target
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    host = host.lower()
    if settings.is_dev and (parts.hostname.lower() in _LOCAL_HOSTS or host in _LOCAL_HOSTS):
        return target
    return "/"


def absolute_url(target: str, request: HTTPConnection, settings: Settings) -> str:
    """A validated target made absolute against the public origin."""
    if target.startswith("/"):
        return public_origin(request, settings) + target
    return target
