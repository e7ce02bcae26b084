"""Session issuing and clearing shared by the credential, SSO and auth routes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from starlette.requests import Request

from ...ee.interfaces import SupportsCookieClearing, maybe_await
from ...ee.models import EEUser, Session
from .._context import ee_context as context

if TYPE_CHECKING:
    from .._context import EEContext

__all__ = [
    "IssuedSession",
    "clear_headers",
    "context",
    "destroy_presented_session",
    "issue_session",
    "session_metadata",
]

logger = logging.getLogger("mastra.server")


def session_metadata(request: Request, **extra: Any) -> dict[str, Any]:
    from .._origin import client_ip

    meta: dict[str, Any] = {"ip": client_ip(request, context(request).settings)}
    agent = request.headers.get("user-agent")
    if agent:
        meta["userAgent"] = agent
    meta.update(extra)
    return {k: v for k, v in meta.items() if v is not None}


async def clear_headers(ctx: EEContext, *providers: Any) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    seen: set[int] = set()
    for provider in (ctx.auth.session, *providers):
        if not isinstance(provider, SupportsCookieClearing) or id(provider) in seen:
            continue
        seen.add(id(provider))
        try:
            headers.extend(await maybe_await(provider.get_clear_session_headers()))
        except Exception:
            logger.warning("clearing session cookies failed", exc_info=True)
    return headers


async def destroy_presented_session(ctx: EEContext, request: Request) -> None:
    """S1: any session the request carried dies before a new one is issued."""
    session = ctx.auth.session
    if session is None:
        return
    sid: str | None = None
    try:
        sid = session.get_session_id_from_request(request)
        if sid:
            await session.destroy_session(sid)
    except Exception:
        logger.info("destroying the presented session failed", exc_info=True)
    finally:
        # Only when a session died: every sign-in passes here, and a clear reaches every
        # node's cache (issue #14) — a burst of fresh sign-ins must not flush them all.
        if sid:
            ctx.auth_cache.clear()


class IssuedSession(NamedTuple):
    headers: list[tuple[str, str]]
    #: The session belongs to the provider that signed the user in (its cookies *are* it).
    owned: bool
    #: The session the session slot created, when it created one.
    session: Session | None


async def issue_session(
    ctx: EEContext,
    request: Request,
    provider: Any,
    user: EEUser,
    provider_cookies: list[str],
    metadata: dict[str, Any],
) -> IssuedSession:
    """Rotate and issue (SPEC 9.4 SSO step 5): the presented session dies, then the
    session slot creates one unless ``provider`` (``None``: no provider session) is it."""
    await destroy_presented_session(ctx, request)
    headers = [("set-cookie", cookie) for cookie in provider_cookies]
    session = ctx.auth.session
    if session is None or session is provider:
        return IssuedSession(headers, True, None)
    created = await session.create_session(user.id, metadata)
    headers.extend(await maybe_await(session.get_session_headers(created)))
    return IssuedSession(headers, False, created)
