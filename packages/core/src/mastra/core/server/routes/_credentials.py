"""Email + password routes (SPEC 9.4, 9.5, S6, S7).

Failures are counted per IP and per account *before* the provider is asked again,
and every outcome is audited. Password hashing happens in the provider, off the
event loop; the only waiting done here is ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from email_validator import EmailNotValidError, validate_email
from starlette.requests import Request
from starlette.responses import Response

from ...ee.errors import (
    AuthError,
    InvalidCredentials,
    InvalidResetToken,
    PasswordPolicyError,
    ProviderUnavailable,
    SignUpDisabled,
)
from ...ee.models import EEUser
from .._audit import record
from .._origin import client_ip, public_origin
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._common import (
    ResetConfirmBody,
    ResetRequestBody,
    SignInBody,
    SignUpBody,
    clear_headers,
    context,
    issue_session,
    session_metadata,
)

__all__ = ["credentials_routes"]

logger = logging.getLogger("mastra.server")

TOO_MANY = "Too many attempts. Try again later."
_background: set[asyncio.Task[Any]] = set()


def _too_many(wait: int) -> Response:
    return error_response(TOO_MANY, 429, headers=[("retry-after", str(wait))])


async def _limiter_call(coro: Any) -> Any:
    # A broken limiter store must not lock everybody out: fail open, loudly.
    try:
        return await coro
    except Exception:
        logger.error("rate limit storage failed; request not limited", exc_info=True)
        return None


def _not_configured() -> Response:
    return error_response("Credentials authentication not configured", 404)


async def _password_failure(request: Request, action: str, email: str, reason: str) -> None:
    """The audit event of a refused sign-in or sign-up (SPEC 9.7)."""
    await record(request, action, "failure", email=email, metadata={"method": "password", "reason": reason})


async def sign_in(request: Request) -> Response:
    ctx = context(request)
    creds = ctx.auth.credentials
    if creds is None:
        return _not_configured()
    body: SignInBody = request.state.mastra_body
    ip = client_ip(request, ctx.settings)
    wait = await _limiter_call(ctx.limiter.blocked(ip, body.email))
    if wait:
        await _password_failure(request, "auth.sign-in", body.email, "rate_limited")
        return _too_many(wait)
    try:
        result = await creds.sign_in(body.email, body.password, request)
    except ProviderUnavailable:
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
        await _limiter_call(ctx.limiter.failed(ip, body.email))
        await _password_failure(request, "auth.sign-in", body.email, reason)
        return error_response("Invalid email or password", 401)
    headers, owned = await issue_session(
        ctx, request, creds, result.user, list(result.cookies), session_metadata(request, method="password")
    )
    await _limiter_call(ctx.limiter.succeeded(body.email))
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
    if not _email_ok(body.email):
        return error_response("Invalid email", 400)
    ip = client_ip(request, ctx.settings)
    wait = await _limiter_call(ctx.limiter.blocked(ip, body.email))
    if wait:
        await _password_failure(request, "auth.sign-up", body.email, "rate_limited")
        return _too_many(wait)
    try:
        result = await creds.sign_up(body.email, body.password, body.name, request)
    except ProviderUnavailable:
        await _password_failure(request, "auth.sign-up", body.email, "provider_unavailable")
        return error_response("Auth provider unavailable", 503)
    except Exception as exc:
        if isinstance(exc, SignUpDisabled):
            reason, response = "sign_up_disabled", error_response("Sign up is disabled", 403)
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
        await _limiter_call(ctx.limiter.failed(ip, body.email))
        await _password_failure(request, "auth.sign-up", body.email, reason)
        return response
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
    if creds is None or not hasattr(creds, "request_password_reset"):
        return error_response("Password reset not supported", 404)
    started = asyncio.get_running_loop().time()
    body: ResetRequestBody = request.state.mastra_body
    ip = client_ip(request, ctx.settings)
    wait = await _limiter_call(ctx.limiter.reset_request_ip_wait(ip))
    if wait:
        await record(
            request,
            "auth.password-reset",
            "failure",
            email=body.email,
            metadata={"stage": "request", "reason": "rate_limited"},
        )
        return _too_many(wait)
    if _email_ok(body.email) and await _limiter_call(ctx.limiter.allow_reset_delivery(body.email)):
        reset_url = (
            public_origin(request, ctx.settings) + ctx.settings.normalised_studio_base + "reset-password"
        )
        task = asyncio.create_task(creds.request_password_reset(body.email, reset_url))
        _background.add(task)
        task.add_done_callback(_log_task_failure)
    await record(request, "auth.password-reset", "success", email=body.email, metadata={"stage": "request"})
    remaining = ctx.reset_delay - (asyncio.get_running_loop().time() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
    return json_response({"success": True}, 202)


async def confirm_reset(request: Request) -> Response:
    ctx = context(request)
    creds = ctx.auth.credentials
    if creds is None or not hasattr(creds, "reset_password"):
        return error_response("Password reset not supported", 404)
    body: ResetConfirmBody = request.state.mastra_body
    ip = client_ip(request, ctx.settings)
    wait = await _limiter_call(ctx.limiter.blocked(ip, None))
    if wait:
        await record(
            request, "auth.password-reset", "failure", metadata={"stage": "confirm", "reason": "rate_limited"}
        )
        return _too_many(wait)
    try:
        user_id = await creds.reset_password(body.token, body.password)
    except ProviderUnavailable:
        return error_response("Auth provider unavailable", 503)
    except Exception as exc:
        if isinstance(exc, PasswordPolicyError):
            reason, response = "password_policy", error_response(exc.message, 400)
        else:
            if not isinstance(exc, InvalidResetToken):
                logger.warning("credentials provider failed during reset", exc_info=True)
            reason, response = "invalid_token", error_response("Invalid or expired reset token", 400)
        await _limiter_call(ctx.limiter.failed(ip, None))
        await record(
            request, "auth.password-reset", "failure", metadata={"stage": "confirm", "reason": reason}
        )
        return response
    session = ctx.auth.session
    if session is not None and hasattr(session, "revoke_user_sessions"):
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
    await record(request, "auth.password-reset", "success", user=user, metadata={"stage": "confirm"})
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
