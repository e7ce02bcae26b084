"""What the providers take from an incoming request: client IP and user agent."""

from __future__ import annotations

from typing import Any

__all__ = ["request_meta"]


def request_meta(request: Any, settings: Any = None) -> dict[str, str]:
    """``{"ip", "userAgent"}`` of a Starlette request (keys omitted when unknown).

    The server's ``client_ip`` (trusted-proxy aware) is used when the server module
    is installed; otherwise the socket peer.
    """
    if request is None:
        return {}
    meta: dict[str, str] = {}
    ip: str | None = None
    try:
        from mastra.core.server import client_ip

        if settings is not None:
            ip = client_ip(request, settings)
    except Exception:
        ip = None
    if ip is None and getattr(request, "client", None) is not None:
        ip = request.client.host
    if ip:
        meta["ip"] = ip
    agent = request.headers.get("user-agent") if hasattr(request, "headers") else None
    if agent:
        meta["userAgent"] = agent[:512]
    return meta
