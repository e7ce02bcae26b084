"""Email + password routes (SPEC 9.4, 9.5, S5, S6, S7, S21): the ``/auth/credentials``
dialect of the flows in :mod:`._flows` (rate limits, sessions and audit live there).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...ee.models import EEUser
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._bodies import ChangePasswordBody, ResetConfirmBody, ResetRequestBody, SignInBody, SignUpBody
from ._flows import FlowOutcome, sign_in_flow, sign_up_flow
from ._password_flows import change_password_flow, confirm_reset_flow, request_reset_flow

__all__ = ["credentials_routes"]


def _render(outcome: FlowOutcome, payload: Any) -> Response:
    """``payload`` with the outcome's status, or the outcome's ``{"error", "message"}``."""
    if outcome.error is not None:
        return error_response(outcome.error, outcome.status, headers=outcome.headers)
    return json_response(payload, outcome.status, headers=outcome.headers)


def _signed_in(outcome: FlowOutcome) -> dict[str, Any]:
    payload: dict[str, Any] = {"user": outcome.user.public_json() if outcome.user else None}
    if outcome.token:
        payload["token"] = outcome.token
    return payload


async def sign_in(request: Request) -> Response:
    body: SignInBody = request.state.mastra_body
    outcome = await sign_in_flow(request, body.email, body.password)
    return _render(outcome, _signed_in(outcome))


async def sign_up(request: Request) -> Response:
    body: SignUpBody = request.state.mastra_body
    outcome = await sign_up_flow(request, body.email, body.password, body.name)
    return _render(outcome, _signed_in(outcome))


async def request_reset(request: Request) -> Response:
    body: ResetRequestBody = request.state.mastra_body
    return _render(await request_reset_flow(request, body.email), {"success": True})


async def confirm_reset(request: Request) -> Response:
    body: ResetConfirmBody = request.state.mastra_body
    return _render(await confirm_reset_flow(request, body.token, body.password), {"success": True})


async def change_password(request: Request) -> Response:
    body: ChangePasswordBody = request.state.mastra_body
    user: EEUser = request.state.user
    outcome = await change_password_flow(request, user, body.currentPassword, body.newPassword)
    return _render(outcome, {"success": True})


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
        r(
            "POST",
            "/auth/credentials/change-password",
            change_password,
            permission=False,
            csrf="always",
            body=ChangePasswordBody,
            tag="auth",
            summary="Change the password; other sessions are revoked, the caller gets a fresh one",
            responses={
                200: "Password changed",
                400: "Invalid password or policy refusal",
                401: "Unauthenticated",
                503: "Provider unavailable",
                404: "Password change not supported",
                **{k: v for k, v in limited.items() if k != 404},
            },
        ),
    ]
