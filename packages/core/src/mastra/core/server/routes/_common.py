"""Helpers shared by the route modules: context access, session issuing, body models."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.requests import Request

from ...ee.errors import TextPolicyError
from ...ee.interfaces import maybe_await
from ...ee.models import EEUser
from ...ee.policy import check_display_text

if TYPE_CHECKING:
    from .._context import EEContext

__all__ = ["Body", "SafeStr", "clear_headers", "context", "issue_session", "session_metadata"]

logger = logging.getLogger("mastra.server")


def _no_nul_or_surrogates(value: str) -> str:
    # Lone surrogates cannot be encoded (hashing would fail) and NUL breaks PostgreSQL text.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


SafeStr = Annotated[str, AfterValidator(_no_nul_or_surrogates)]


def _visible_email(value: str) -> str:
    # S26: an address that hides or reorders characters is refused before it is used
    # or written to the audit log; pydantic reports the policy's message as the issue.
    try:
        return check_display_text(value, "Email")
    except TextPolicyError as refused:
        raise ValueError(refused.message) from None


#: An email as sign-in and reset requests accept it: shape checked, nothing invisible.
EmailText = Annotated[
    SafeStr,
    Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
    AfterValidator(_visible_email),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class SignInBody(Body):
    email: EmailText
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]


class SignUpBody(Body):
    email: Annotated[SafeStr, Field(min_length=1, max_length=320)]
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]
    name: Annotated[SafeStr, Field(max_length=200)] | None = None


class ResetRequestBody(Body):
    email: EmailText


class ResetConfirmBody(Body):
    token: Annotated[SafeStr, Field(min_length=1, max_length=512)]
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]


def context(request: Request) -> EEContext:
    return request.app.state.mastra_ee  # type: ignore[no-any-return]


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
        if provider is None or id(provider) in seen or not hasattr(provider, "get_clear_session_headers"):
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
    try:
        sid = session.get_session_id_from_request(request)
        if sid:
            await session.destroy_session(sid)
    except Exception:
        logger.info("destroying the presented session failed", exc_info=True)
    finally:
        ctx.auth_cache.clear()


async def issue_session(
    ctx: EEContext,
    request: Request,
    provider: Any,
    user: EEUser,
    provider_cookies: list[str],
    metadata: dict[str, Any],
) -> tuple[list[tuple[str, str]], bool]:
    """Rotate and issue (SPEC 9.4 SSO step 5): returns headers and whether the
    session belongs to ``provider`` (its cookies *are* the session)."""
    await destroy_presented_session(ctx, request)
    headers = [("set-cookie", cookie) for cookie in provider_cookies]
    session = ctx.auth.session
    if session is None or session is provider:
        return headers, True
    created = await session.create_session(user.id, metadata)
    headers.extend(await maybe_await(session.get_session_headers(created)))
    return headers, False
