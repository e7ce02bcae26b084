"""What plugin routes need from the host app: the composed auth, origin and client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mastra.core.server import client_ip
from mastra.core.server import public_origin as core_public_origin
from starlette.requests import Request

if TYPE_CHECKING:
    from .provider import WorkOSAuthProvider

__all__ = ["client_details", "find_provider", "host_settings", "public_origin"]


def _ee(request: Request) -> Any:
    return getattr(request.app.state, "mastra_ee", None)


def find_provider(request: Request) -> tuple[Any, WorkOSAuthProvider | None]:
    """The composed auth and the WorkOS provider in one of its slots (or ``None``)."""
    from .provider import WorkOSAuthProvider

    auth = getattr(_ee(request), "auth", None)
    if auth is None:
        return None, None
    for slot in ("user", "session", "sso", "rbac", "audit"):
        candidate = getattr(auth, slot, None)
        if isinstance(candidate, WorkOSAuthProvider):
            return auth, candidate
    return auth, None


def host_settings(request: Request, provider: WorkOSAuthProvider) -> Any:
    return getattr(_ee(request), "settings", None) or provider.options.settings


def public_origin(request: Request, settings: Any) -> str:
    """The server's SPEC 9.1 public origin."""
    return str(core_public_origin(request, settings))


def client_details(request: Request) -> tuple[str | None, str | None]:
    ip: str | None = None
    ee = _ee(request)
    if ee is not None:
        try:
            ip = client_ip(request, ee.settings)
        except Exception:
            ip = None
    if ip is None and request.client is not None:
        ip = request.client.host
    return ip, request.headers.get("user-agent")
