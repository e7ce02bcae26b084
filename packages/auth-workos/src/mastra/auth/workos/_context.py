"""What the plugin routes need from the host app, through its public request context
(:func:`mastra.core.server.ee_context`): the WorkOS provider among the composed slots
and the client's address."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mastra.core.server import client_ip, ee_context
from starlette.requests import Request

if TYPE_CHECKING:
    from mastra.core.ee.provider import MastraAuthProvider

    from .provider import WorkOSAuthProvider

__all__ = ["client_details", "find_provider"]


def find_provider(request: Request) -> tuple[MastraAuthProvider, WorkOSAuthProvider | None]:
    """The composed auth and the WorkOS provider in one of its slots (or ``None``)."""
    from .provider import WorkOSAuthProvider

    auth = ee_context(request).auth
    for candidate in auth.slots().values():
        if isinstance(candidate, WorkOSAuthProvider):
            return auth, candidate
    return auth, None


def client_details(request: Request) -> tuple[str | None, str | None]:
    """The client IP (trusted-proxy aware, SPEC 9.1) and user agent."""
    return client_ip(request, ee_context(request).settings), request.headers.get("user-agent")
