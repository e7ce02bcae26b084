"""The credential flows (SPEC 9.4, 9.5, 9.7, S5, S6, S7, S21), apart from how they are spoken.

This module: sign-in, sign-up, sign-out and the shared machinery; the password flows
(reset, change) are in :mod:`._password_flows`.

Each flow takes what a route parsed from its body and returns a :class:`FlowOutcome`;
the route renders it in its own dialect: ``/auth/credentials/*`` as
``{"error", "message"}`` bodies, the Better Auth API of ``mastra-auth-better`` as
``{"message", "code"}``. Rate limits, session rotation and audit events live here
only, so both dialects count against the same limits and write the same events.

Each attempt takes its rate-limit slots *before* the provider verifies anything
(:mod:`.._ratelimit`), so concurrency cannot buy extra guesses; the outcome then
settles the slots. A rate-limit store that fails closes these flows (503). Password
hashing happens in the provider, off the event loop; the only waiting done here is
``asyncio.sleep``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from starlette.requests import Request

from ...ee.errors import (
    AuthError,
    InvalidCredentials,
    PasswordPolicyError,
    ProviderUnavailable,
    RateLimited,
    RateLimitUnavailable,
    SignUpDisabled,
    TextPolicyError,
)
from ...ee.models import EEUser, Session
from ...ee.policy import check_display_text
from .._audit import record
from .._origin import client_ip
from .._ratelimit import Attempt
from ._sessions import clear_headers, context, issue_session, session_metadata

__all__ = [
    "FlowOutcome",
    "email_ok",
    "sign_in_flow",
    "sign_out_flow",
    "sign_up_flow",
]

logger = logging.getLogger("mastra.server")

_T = TypeVar("_T")


@dataclass
class FlowOutcome:
    """What a flow decided. ``error`` is ``None`` on success; ``reason`` is the machine
    word for a refusal (the audit ``reason``: ``invalid_credentials``, ``rate_limited``,
    ``password_policy``, ``not_supported``, ...) that a dialect maps to its own codes."""

    status: int
    error: str | None = None
    reason: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    user: EEUser | None = None
    #: Bearer token of a provider-owned session (sign-in, sign-up).
    token: str | None = None
    #: The session a flow issued (change-password), for dialects that describe it.
    session: Session | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _refused(
    status: int, error: str, reason: str, headers: list[tuple[str, str]] | None = None
) -> FlowOutcome:
    return FlowOutcome(status, error, reason, headers or [])


async def _limited(
    request: Request,
    action: str,
    email: str | None,
    meta: dict[str, Any],
    taking: Awaitable[_T],
    user: EEUser | None = None,
) -> _T | FlowOutcome:
    """Await a slot-taking call; a full limit or a failed store becomes the outcome."""
    try:
        return await taking
    except RateLimited as limited:
        outcome = _refused(limited.status, limited.message, "rate_limited", limited.headers())
    except RateLimitUnavailable:
        logger.error("rate limit storage failed; credential request refused", exc_info=True)
        outcome = _refused(503, "Service unavailable", "rate_limit_unavailable")
    reason = outcome.reason or "rate_limited"
    await record(request, action, "failure", user=user, email=email, metadata={**meta, "reason": reason})
    return outcome


async def _settle(settle: Awaitable[None]) -> None:
    # After the provider answered, a store failure only loses bookkeeping: log it.
    try:
        await settle
    except RateLimitUnavailable:
        logger.error("rate limit storage failed while settling an attempt", exc_info=True)


def _begin(
    request: Request, action: str, email: str | None, meta: dict[str, Any], *, sign_up: bool = False
) -> Awaitable[Attempt | FlowOutcome]:
    ctx = context(request)
    ip = client_ip(request, ctx.settings)
    return _limited(request, action, email, meta, ctx.limiter.begin(ip, email, sign_up=sign_up))


async def _failure(
    request: Request, action: str, email: str | None, meta: dict[str, Any], reason: str
) -> None:
    await record(request, action, "failure", email=email, metadata={**meta, "reason": reason})


_PASSWORD = {"method": "password"}
_NOT_CONFIGURED = ("Credentials authentication not configured", "not_configured")


def email_ok(email: str) -> bool:
    """Syntax only (no DNS): what the HTTP layer accepts as an address."""
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


async def sign_in_flow(request: Request, email: str, password: str) -> FlowOutcome:
    ctx = context(request)
    creds = ctx.auth.credentials
    if creds is None:
        return _refused(404, *_NOT_CONFIGURED)
    attempt = await _begin(request, "auth.sign-in", email, _PASSWORD)
    if isinstance(attempt, FlowOutcome):
        return attempt
    try:
        result = await creds.sign_in(email, password, request)
    except ProviderUnavailable:
        await _settle(ctx.limiter.cancel(attempt))
        await _failure(request, "auth.sign-in", email, _PASSWORD, "provider_unavailable")
        return _refused(503, "Auth provider unavailable", "provider_unavailable")
    except Exception as exc:
        reason = getattr(exc, "reason", None) if isinstance(exc, InvalidCredentials) else None
        if reason is None:
            reason = "invalid_credentials" if isinstance(exc, AuthError) else "provider_error"
            if not isinstance(exc, AuthError):
                logger.warning("credentials provider failed during sign-in", exc_info=True)
        await _settle(ctx.limiter.failed(attempt))
        await _failure(request, "auth.sign-in", email, _PASSWORD, reason)
        return _refused(401, "Invalid email or password", reason)
    await _settle(ctx.limiter.succeeded(attempt))
    headers, owned, _ = await issue_session(
        ctx, request, creds, result.user, list(result.cookies), session_metadata(request, method="password")
    )
    await record(request, "auth.sign-in", "success", user=result.user, metadata=_PASSWORD)
    token = result.token if result.token and owned else None
    return FlowOutcome(200, headers=headers, user=result.user, token=token)


def _sign_up_refusal(exc: Exception) -> FlowOutcome:
    if isinstance(exc, SignUpDisabled):
        return _refused(403, "Sign up is disabled", "sign_up_disabled")
    if isinstance(exc, TextPolicyError):  # a provider's own S26 check
        return _refused(400, exc.message, exc.reason)
    if isinstance(exc, PasswordPolicyError):
        return _refused(400, exc.message, "password_policy")
    if isinstance(exc, AuthError) and exc.message == "Invalid email":
        return _refused(400, "Invalid email", "invalid_email")
    if not isinstance(exc, AuthError):
        logger.warning("credentials provider failed during sign-up", exc_info=True)
    reason = getattr(exc, "reason", None) or (
        "sign_up_failed" if isinstance(exc, AuthError) else "provider_error"
    )
    return _refused(400, "Failed to create account", reason)


async def sign_up_flow(request: Request, email: str, password: str, name: str | None) -> FlowOutcome:
    ctx = context(request)
    creds = ctx.auth.credentials
    if creds is None:
        return _refused(404, *_NOT_CONFIGURED)
    try:
        check_display_text(email, "Email")
        if name is not None:
            check_display_text(name, "Name")
    except TextPolicyError as refused:
        # S26: audited without the refused text (it may carry terminal escapes).
        await _failure(request, "auth.sign-up", None, _PASSWORD, refused.reason)
        return _refused(400, refused.message, refused.reason)
    if not email_ok(email):
        return _refused(400, "Invalid email", "invalid_email")
    attempt = await _begin(request, "auth.sign-up", email, _PASSWORD, sign_up=True)
    if isinstance(attempt, FlowOutcome):
        return attempt
    try:
        result = await creds.sign_up(email, password, name, request)
    except ProviderUnavailable:
        await _settle(ctx.limiter.cancel(attempt))
        await _failure(request, "auth.sign-up", email, _PASSWORD, "provider_unavailable")
        return _refused(503, "Auth provider unavailable", "provider_unavailable")
    except Exception as exc:
        outcome = _sign_up_refusal(exc)
        await _settle(ctx.limiter.failed(attempt))
        await _failure(request, "auth.sign-up", email, _PASSWORD, outcome.reason or "sign_up_failed")
        return outcome
    await _settle(ctx.limiter.succeeded(attempt))
    headers, owned, _ = await issue_session(
        ctx, request, creds, result.user, list(result.cookies), session_metadata(request, method="password")
    )
    meta: dict[str, Any] = dict(_PASSWORD)
    if result.user.name:
        meta["name"] = result.user.name
    await record(request, "auth.sign-up", "success", user=result.user, metadata=meta)
    token = result.token if result.token and owned else None
    return FlowOutcome(201, headers=headers, user=result.user, token=token)


async def sign_out_flow(request: Request, *, providers: tuple[Any, ...] = ()) -> FlowOutcome:
    """Destroy the presented session (errors ignored) and clear the session cookies (and
    those of ``providers``); audited when a user was resolved (SPEC 9.4 logout)."""
    ctx = context(request)
    auth = ctx.auth
    if auth.user is None and auth.session is None:
        return FlowOutcome(200)
    user: EEUser | None = None
    sid: str | None = None
    if auth.user is not None:
        caller = await ctx.pipeline.authenticate(request, refresh=False)
        user, sid = caller.user, caller.session_id
    if auth.session is not None:
        try:
            sid = sid or auth.session.get_session_id_from_request(request)
            if sid:
                await auth.session.destroy_session(sid)
        except Exception:
            logger.info("destroying the session at logout failed", exc_info=True)
    ctx.auth_cache.clear()
    headers = await clear_headers(ctx, *providers)
    if user is not None:
        await record(request, "auth.logout", "success", user=user)
    return FlowOutcome(200, headers=headers, user=user)
