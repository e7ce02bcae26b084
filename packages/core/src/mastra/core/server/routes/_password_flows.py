"""The password flows: reset request and confirm, change while signed in (SPEC 9.4,
9.5, S5, S6, S21). Helpers and :class:`FlowOutcome` are :mod:`._flows`'s."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request

from ...ee.errors import AuthError, InvalidResetToken, PasswordPolicyError, ProviderUnavailable
from ...ee.interfaces import (
    SupportsPasswordChange,
    SupportsPasswordReset,
    SupportsSessionListing,
)
from ...ee.models import EEUser
from .._audit import record
from .._origin import client_ip, public_origin
from ._flows import _PASSWORD, FlowOutcome, _begin, _failure, _limited, _refused, _settle, email_ok
from ._sessions import clear_headers, context, issue_session, session_metadata

__all__ = ["change_password_flow", "confirm_reset_flow", "request_reset_flow"]

logger = logging.getLogger("mastra.server")

_background: set[asyncio.Task[Any]] = set()


def _log_task_failure(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("password reset delivery failed: %s", type(task.exception()).__name__)


async def request_reset_flow(request: Request, email: str, reset_url: str | None = None) -> FlowOutcome:
    """Always 202 after the same delay (S6): delivery runs in the background.

    ``reset_url`` defaults to the studio's reset page; a dialect passing its own must
    have validated it (9.1) first."""
    ctx = context(request)
    creds = ctx.auth.credentials
    if not isinstance(creds, SupportsPasswordReset):
        return _refused(404, "Password reset not supported", "not_supported")
    started = asyncio.get_running_loop().time()
    meta = {"stage": "request"}
    ip = client_ip(request, ctx.settings)
    refused = await _limited(request, "auth.password-reset", email, meta, ctx.limiter.begin_reset_request(ip))
    if isinstance(refused, FlowOutcome):
        return refused
    deliver: bool | FlowOutcome = False
    if email_ok(email):
        deliver = await _limited(
            request, "auth.password-reset", email, meta, ctx.limiter.allow_reset_delivery(email)
        )
        if isinstance(deliver, FlowOutcome):
            return deliver
    if deliver:
        if reset_url is None:
            base = public_origin(request, ctx.settings) + ctx.settings.normalised_studio_base
            reset_url = base + "reset-password"
        task = asyncio.create_task(creds.request_password_reset(email, reset_url))
        _background.add(task)
        task.add_done_callback(_log_task_failure)
    await record(request, "auth.password-reset", "success", email=email, metadata=meta)
    remaining = ctx.reset_delay - (asyncio.get_running_loop().time() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
    return FlowOutcome(202)


async def _revoke_all(request: Request, user_id: str, purpose: str) -> None:
    """S5: every session of the user in the session slot dies; the auth cache forgets them."""
    ctx = context(request)
    session = ctx.auth.session
    if isinstance(session, SupportsSessionListing):
        try:
            await session.revoke_user_sessions(user_id)
        except Exception:
            logger.error("revoking sessions after a %s failed", purpose, exc_info=True)
    ctx.auth_cache.clear()


async def _actor(request: Request, user_id: str) -> EEUser:
    ctx = context(request)
    user = EEUser(id=user_id)
    if ctx.auth.user is not None:
        try:
            user = await ctx.auth.user.get_user(user_id) or user
        except Exception:  # the id alone identifies the actor
            logger.debug("user lookup for the audit actor failed", exc_info=True)
    return user


async def confirm_reset_flow(request: Request, token: str, password: str) -> FlowOutcome:
    ctx = context(request)
    creds = ctx.auth.credentials
    if not isinstance(creds, SupportsPasswordReset):
        return _refused(404, "Password reset not supported", "not_supported")
    meta = {"stage": "confirm"}
    attempt = await _begin(request, "auth.password-reset", None, meta)
    if isinstance(attempt, FlowOutcome):
        return attempt
    try:
        user_id = await creds.reset_password(token, password)
    except ProviderUnavailable:
        await _settle(ctx.limiter.cancel(attempt))
        return _refused(503, "Auth provider unavailable", "provider_unavailable")
    except Exception as exc:
        if isinstance(exc, PasswordPolicyError):
            outcome = _refused(400, exc.message, "password_policy")
        else:
            if not isinstance(exc, InvalidResetToken):
                logger.warning("credentials provider failed during reset", exc_info=True)
            outcome = _refused(400, "Invalid or expired reset token", "invalid_token")
        await _settle(ctx.limiter.failed(attempt))
        await _failure(request, "auth.password-reset", None, meta, outcome.reason or "invalid_token")
        return outcome
    await _settle(ctx.limiter.succeeded(attempt))
    await _revoke_all(request, user_id, "password reset")
    user = await _actor(request, user_id)
    await record(request, "auth.password-reset", "success", user=user, metadata=meta)
    return FlowOutcome(200, headers=await clear_headers(ctx), user=user)


async def change_password_flow(
    request: Request, user: EEUser, current_password: str, new_password: str
) -> FlowOutcome:
    """S5: a signed-in user changes their password. Every session of the user is revoked,
    then the caller gets a fresh one (``headers``, ``session``): it stays signed in.

    A wrong current password counts as a failed attempt on the account and IP limits."""
    ctx = context(request)
    creds = ctx.auth.credentials
    if not isinstance(creds, SupportsPasswordChange):
        return _refused(404, "Password change not supported", "not_supported")
    action, meta = "auth.password-change", dict(_PASSWORD)
    if user.via_api_key:
        # A key holder who knew the password would otherwise swap the key for a cookie
        # session carrying every permission of the owner, and sign the owner out.
        await _failure(request, action, user.email, meta, "api_key")
        return _refused(403, "API keys cannot change passwords", "api_key")
    attempt = await _limited(
        request,
        action,
        user.email,
        meta,
        ctx.limiter.begin(client_ip(request, ctx.settings), user.email or f"id:{user.id}"),
        user,
    )
    if isinstance(attempt, FlowOutcome):
        return attempt
    try:
        await creds.change_password(user.id, current_password, new_password)
    except ProviderUnavailable:
        await _settle(ctx.limiter.cancel(attempt))
        await _failure(request, action, user.email, meta, "provider_unavailable")
        return _refused(503, "Auth provider unavailable", "provider_unavailable")
    except Exception as exc:
        if isinstance(exc, PasswordPolicyError):
            outcome = _refused(400, exc.message, "password_policy")
        else:
            if not isinstance(exc, AuthError):
                logger.warning("credentials provider failed during password change", exc_info=True)
            outcome = _refused(400, "Invalid password", "invalid_password")
        await _settle(ctx.limiter.failed(attempt))
        await record(request, action, "failure", user=user, metadata={**meta, "reason": outcome.reason})
        return outcome
    await _settle(ctx.limiter.succeeded(attempt))
    await _revoke_all(request, user.id, "password change")
    # Rotation (S1) also kills the presented session where the slot cannot list sessions;
    # the caller stays signed in through the fresh one.
    issued = await issue_session(ctx, request, None, user, [], session_metadata(request, method="password"))
    await record(request, action, "success", user=user, metadata=meta)
    return FlowOutcome(200, headers=issued.headers, user=user, session=issued.session)
