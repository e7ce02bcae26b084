"""Email + password routes (SPEC 9.4, 9.5, S6, S7, S21).

Each attempt takes its rate-limit slots *before* the provider verifies anything
(:mod:`.._ratelimit`), so concurrency cannot buy extra guesses; the outcome then
settles the slots. A rate-limit store that fails closes these routes (503). Every
outcome is audited. Password hashing happens in the provider, off the event loop;
the only waiting done here is ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from starlette.requests import Request
from starlette.responses import Response

from ...ee.errors import (
    AuthError,
    InvalidCredentials,
    InvalidResetToken,
    PasswordPolicyError,
    ProviderUnavailable,
    RateLimited,
    RateLimitUnavailable,
    SignUpDisabled,
    TextPolicyError,
)
from ...ee.interfaces import SupportsPasswordReset, SupportsSessionListing
from ...ee.models import EEUser
from ...ee.policy import check_display_text
from .._audit import record
from .._origin import client_ip, public_origin
from .._ratelimit import Attempt
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._bodies import ResetConfirmBody, ResetRequestBody, SignInBody, SignUpBody
from ._sessions import (
    clear_headers,
    context,
    issue_session,
    session_metadata,
)

__all__ = ["credentials_routes"]

logger = logging.getLogger("mastra.server")

_background: set[asyncio.Task[Any]] = set()
_T = TypeVar("_T")


def _not_configured() -> Response:
    return error_response("Credentials authentication not configured", 404)


async def _limited(
    request: Request, action: str, email: str | None, meta: dict[str, Any], taking: Awaitable[_T]
) -> _T | Response:
    """Await a slot-taking call; a full limit or a failed store becomes the response."""
    try:
        return await taking
    except RateLimited as limited:
        reason = "rate_limited"
        response = json_response(limited.body(), limited.status, headers=limited.headers())
    except RateLimitUnavailable:
        logger.error("rate limit storage failed; credential request refused", exc_info=True)
        reason = "rate_limit_unavailable"
        response = error_response("Service unavailable", 503)
    await record(request, action, "failure", email=email, metadata={**meta, "reason": reason})
    return response


async def _settle(settle: Awaitable[None]) -> None:
    # After the provider answered, a store failure only loses bookkeeping: log it.
    try:
        await settle
    except RateLimitUnavailable:
        logger.error("rate limit storage failed while settling an attempt", exc_info=True)


def _begin(
    request: Request, action: str, email: str | None, meta: dict[str, Any], *, sign_up: bool = False
) -> Awaitable[Attempt | Response]:
    ctx = context(request)
    ip = client_ip(request, ctx.settings)
    return _limited(request, action, email, meta, ctx.limiter.begin(ip, email, sign_up=sign_up))


async def _password_failure(request: Request, action: str, email: str | None, reason: str) -> None:
    """The audit event of a refused sign-in or sign-up (SPEC 9.7)."""
    await record(request, action, "failure", email=email, metadata={"method": "password", "reason": reason})


async def sign_in(request: Request) -> Response:
    ctx = context(request)
    creds = ctx.auth.credentials
    if creds is None:
        return _not_configured()
    body: SignInBody = request.state.mastra_body
    attempt = await _begin(request, "auth.sign-in", body.email, {"method": "password"})
    if isinstance(attempt, Response):
        return attempt
    try:
        result = await creds.sign_in(body.email, body.password, request)
    except ProviderUnavailable:
        await _settle(ctx.limiter.cancel(attempt))
        await _password_failure(request, "auth.sign-in", body.email, "provider_unavailable")
        return error_response("Auth provider unavailable", 503)
    except Exception as exc:
        reason = (
            getattr(exc, "reason", "invalid_credentials") if isinstance(exc, InvalidCredentials) else None
        )
        if reason is None:
            reason = "invalid_credentials" if isinstance(exc, AuthError) else "provider_error"
            if not isinstance(exc, AuthError):
                logger.warning("credentials provider failed during sign-in", exc_info=True)
        await _settle(ctx.limiter.failed(attempt))
        await _password_failure(request, "auth.sign-in", body.email, reason)
        return error_response("Invalid email or password", 401)
    await _settle(ctx.limiter.succeeded(attempt))
    headers, owned = await issue_session(
        ctx, request, creds, result.user, list(result.cookies), session_metadata(request, method="password")
    )
    await record(request, "auth.sign-in", "success", user=result.user, metadata={"method": "password"})
    payload: dict[str, Any] = {"user": result.user.public_json()}
    if result.token and owned:
        payload["token"] = result.token
    return json_response(payload, headers=headers)


def _email_ok(email: str) -> bool:
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


async def sign_up(request: Request) -> Response:
    ctx = context(request)
    creds = ctx.auth.credentials
    if creds is None:
        return _not_configured()
    body: SignUpBody = request.state.mastra_body
    try:
        check_display_text(body.email, "Email")
        if body.name is not None:
            check_display_text(body.name, "Name")
    except TextPolicyError as refused:
        # S26: audited without the refused text (it may carry terminal escapes).
        await _password_failure(request, "auth.sign-up", None, refused.reason)
        return error_response(refused.message, 400)
    if not _email_ok(body.email):
        return error_response("Invalid email", 400)
    attempt = await _begin(request, "auth.sign-up", body.email, {"method": "password"}, sign_up=True)
    if isinstance(attempt, Response):
        return attempt
    try:
        result = await creds.sign_up(body.email, body.password, body.name, request)
    except ProviderUnavailable:
        await _settle(ctx.limiter.cancel(attempt))
        await _password_failure(request, "auth.sign-up", body.email, "provider_unavailable")
        return error_response("Auth provider unavailable", 503)
    except Exception as exc:
        if isinstance(exc, SignUpDisabled):
            reason, response = "sign_up_disabled", error_response("Sign up is disabled", 403)
        elif isinstance(exc, TextPolicyError):  # a provider's own S26 check
            reason, response = exc.reason, error_response(exc.message, 400)
        elif isinstance(exc, PasswordPolicyError):
            reason, response = "password_policy", error_response(exc.message, 400)
        elif isinstance(exc, AuthError) and exc.message == "Invalid email":
            reason, response = "invalid_email", error_response("Invalid email", 400)
        else:
            if not isinstance(exc, AuthError):
                logger.warning("credentials provider failed during sign-up", exc_info=True)
            reason = getattr(exc, "reason", None) or (
                "sign_up_failed" if isinstance(exc, AuthError) else "provider_error"
            )
            response = error_response("Failed to create account", 400)
        await _settle(ctx.limiter.failed(attempt))
        await _password_failure(request, "auth.sign-up", body.email, reason)
        return response
    await _settle(ctx.limiter.succeeded(attempt))
    headers, owned = await issue_session(
        ctx, request, creds, result.user, list(result.cookies), session_metadata(request, method="password")
    )
    meta: dict[str, Any] = {"method": "password"}
    if result.user.name:
        meta["name"] = result.user.name
    await record(request, "auth.sign-up", "success", user=result.user, metadata=meta)
    payload: dict[str, Any] = {"user": result.user.public_json()}
    if result.token and owned:
        payload["token"] = result.token
    return json_response(payload, 201, headers=headers)


def _log_task_failure(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("password reset delivery failed: %s", type(task.exception()).__name__)


async def request_reset(request: Request) -> Response:
    """Always 202 after the same delay (S6): delivery runs in the background."""
    ctx = context(request)
    creds = ctx.auth.credentials
    if not isinstance(creds, SupportsPasswordReset):
        return error_response("Password reset not supported", 404)
    started = asyncio.get_running_loop().time()
    body: ResetRequestBody = request.state.mastra_body
    meta = {"stage": "request"}
    ip = client_ip(request, ctx.settings)
    refused = await _limited(
        request, "auth.password-reset", body.email, meta, ctx.limiter.begin_reset_request(ip)
    )
    if isinstance(refused, Response):
        return refused
    deliver: bool | Response = False
    if _email_ok(body.email):
        deliver = await _limited(
            request, "auth.password-reset", body.email, meta, ctx.limiter.allow_reset_delivery(body.email)
        )
        if isinstance(deliver, Response):
            return deliver
    if deliver:
        reset_url = (
            public_origin(request, ctx.settings) + ctx.settings.normalised_studio_base + "reset-password"
        )
        task = asyncio.create_task(creds.request_password_reset(body.email, reset_url))
        _background.add(task)
        task.add_done_callback(_log_task_failure)
    await record(request, "auth.password-reset", "success", email=body.email, metadata=meta)
    remaining = ctx.reset_delay - (asyncio.get_running_loop().time() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
    return json_response({"success": True}, 202)


async def confirm_reset(request: Request) -> Response:
    ctx = context(request)
    creds = ctx.auth.credentials
    if not isinstance(creds, SupportsPasswordReset):
        return error_response("Password reset not supported", 404)
    body: ResetConfirmBody = request.state.mastra_body
    meta = {"stage": "confirm"}
    attempt = await _begin(request, "auth.password-reset", None, meta)
    if isinstance(attempt, Response):
        return attempt
    try:
        user_id = await creds.reset_password(body.token, body.password)
    except ProviderUnavailable:
        await _settle(ctx.limiter.cancel(attempt))
        return error_response("Auth provider unavailable", 503)
    except Exception as exc:
        if isinstance(exc, PasswordPolicyError):
            reason, response = "password_policy", error_response(exc.message, 400)
        else:
            if not isinstance(exc, InvalidResetToken):
                logger.warning("credentials provider failed during reset", exc_info=True)
            reason, response = "invalid_token", error_response("Invalid or expired reset token", 400)
        await _settle(ctx.limiter.failed(attempt))
        await record(request, "auth.password-reset", "failure", metadata={**meta, "reason": reason})
        return response
    await _settle(ctx.limiter.succeeded(attempt))
    session = ctx.auth.session
    if isinstance(session, SupportsSessionListing):
        try:
            await session.revoke_user_sessions(user_id)
        except Exception:
            logger.error("revoking sessions after a password reset failed", exc_info=True)
    ctx.auth_cache.clear()
    user = EEUser(id=user_id)
    if ctx.auth.user is not None:
        try:
            user = await ctx.auth.user.get_user(user_id) or user
        except Exception:  # the id alone identifies the actor
            logger.debug("user lookup for the audit actor failed", exc_info=True)
    await record(request, "auth.password-reset", "success", user=user, metadata=meta)
    return json_response({"success": True}, headers=await clear_headers(ctx))


def credentials_routes() -> list[ApiRoute]:
    r = ApiRoute
    limited = {429: "Too many attempts", 403: "CSRF", 404: "Not configured"}
    return [
        r(
            "POST",
            "/auth/credentials/sign-in",
            sign_in,
            requires_auth=False,
            csrf="always",
            body=SignInBody,
            tag="auth",
            summary="Sign in with email and password",
            responses={
                200: "Signed in",
                400: "Invalid request",
                401: "Invalid email or password",
                503: "Provider unavailable",
                **limited,
            },
        ),
        r(
            "POST",
            "/auth/credentials/sign-up",
            sign_up,
            requires_auth=False,
            csrf="always",
            body=SignUpBody,
            tag="auth",
            summary="Create an account and sign in",
            responses={
                201: "Created",
                400: "Invalid request or refused",
                503: "Provider unavailable",
                **limited,
            },
        ),
        r(
            "POST",
            "/auth/credentials/password-reset",
            request_reset,
            requires_auth=False,
            csrf="always",
            body=ResetRequestBody,
            tag="auth",
            summary="Request a password reset link",
            responses={202: "Accepted", 400: "Invalid request", **limited},
        ),
        r(
            "POST",
            "/auth/credentials/password-reset/confirm",
            confirm_reset,
            requires_auth=False,
            csrf="always",
            body=ResetConfirmBody,
            tag="auth",
            summary="Set a new password with a reset token",
            responses={200: "Password changed", 400: "Invalid token or request", **limited},
        ),
    ]
