"""Better Auth's HTTP API in embedded mode (issue 11): the npm ``better-auth`` client works
against the Python server unchanged.

Better Auth's default base path ``/api/auth`` is the project's ``<prefix>/auth``, so the
endpoints sit beside the core's (no path overlaps: ``api_routes()`` has no
``/auth/sign-in/email``, ``/auth/get-session``, ...). Every credential endpoint is a
dialect of the core's flows (:mod:`mastra.core.server.routes`): the same rate limits,
CSRF rules, session rotation and audit events as ``/auth/credentials/*``, rendered in
Better Auth's shapes. The routes are always declared by the plugin; outside embedded
mode (remote mode, another credentials provider) they answer 404.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from mastra.core.ee import PluginRoute
from mastra.core.ee.errors import TextPolicyError
from mastra.core.ee.interfaces import SupportsSessionListing
from mastra.core.ee.models import EEUser
from mastra.core.ee.policy import check_display_text
from mastra.core.server import Caller, ee_context, record, validate_redirect
from mastra.core.server.routes import (
    FlowOutcome,
    change_password_flow,
    confirm_reset_flow,
    request_reset_flow,
    sign_in_flow,
    sign_out_flow,
    sign_up_flow,
)
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._api_shapes import (
    ChangePasswordBody,
    RequestResetBody,
    ResetPasswordBody,
    RevokeSessionBody,
    SignInBody,
    SignUpBody,
    UpdateUserBody,
    ba_error,
    bare_token,
    outcome_error,
    session_json,
    user_json,
    validation_error,
)

if TYPE_CHECKING:
    from .embedded import EmbeddedBetterAuth

__all__ = ["better_auth_routes"]

logger = logging.getLogger("mastra.auth.better")

_M = TypeVar("_M", bound=BaseModel)
_RESET_MESSAGE = "If this email exists in our system, check your email for the reset link"


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _embedded(request: Request) -> EmbeddedBetterAuth:
    from .embedded import EmbeddedBetterAuth

    provider = ee_context(request).auth.credentials
    if not isinstance(provider, EmbeddedBetterAuth):
        raise _Refused(ba_error(404, "NOT_FOUND", "Not found"))
    return provider


async def _body(request: Request, model: type[_M]) -> _M:
    try:
        return model.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        raise _Refused(validation_error(exc)) from None


async def _caller(request: Request) -> tuple[Caller, EEUser]:
    """The signed-in caller and their user, or Better Auth's 401.

    An API key is no session here (Better Auth's own ``apiKey`` plugin makes none unless
    asked): these endpoints read, revoke and replace the person's sign-in, which our
    routes let a key reach only through its ``sessions:*`` scopes."""
    caller = await ee_context(request).pipeline.identify(request)
    if caller.user is None or caller.user.via_api_key:
        raise _Refused(ba_error(401, "UNAUTHORIZED", "Unauthorized"))
    return caller, caller.user


def _json(content: Any, headers: Iterable[tuple[str, str]] = ()) -> JSONResponse:
    response = JSONResponse(content)
    for name, value in headers:
        response.raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return response


async def _user_row(provider: EmbeddedBetterAuth, user_id: str) -> dict[str, Any]:
    row = await provider.store.get_user(user_id)
    if row is None:
        raise _Refused(ba_error(401, "UNAUTHORIZED", "Unauthorized"))
    return row


def _endpoint(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request, _embedded(request))
        except _Refused as refused:
            return refused.response
        return response

    endpoint.__name__ = endpoint.__qualname__ = handler.__name__
    return endpoint


async def _signed_in(provider: EmbeddedBetterAuth, outcome: FlowOutcome, **extra: Any) -> Response:
    if not outcome.ok or outcome.user is None:
        return outcome_error(outcome)
    row = await _user_row(provider, outcome.user.id)
    return _json({**extra, "token": outcome.token, "user": user_json(row)}, outcome.headers)


async def sign_up_email(request: Request, provider: EmbeddedBetterAuth) -> Response:
    body = await _body(request, SignUpBody)
    image = _image(body.image) if body.image else None  # refused before any account exists
    outcome = await sign_up_flow(request, body.email, body.password, body.name or None)
    if outcome.ok and outcome.user is not None and image:
        await provider.store.update_user(outcome.user.id, image=image)
    return await _signed_in(provider, outcome)


async def sign_in_email(request: Request, provider: EmbeddedBetterAuth) -> Response:
    body = await _body(request, SignInBody)
    outcome = await sign_in_flow(request, body.email, body.password)
    # ``callbackURL`` is not followed: the caller navigates itself (no open redirect here).
    return await _signed_in(provider, outcome, redirect=False)


async def get_session(request: Request, provider: EmbeddedBetterAuth) -> Response:
    caller = await ee_context(request).pipeline.identify(request)
    if caller.user is None or caller.session is None:
        return _json(None, caller.headers)
    row = await _user_row(provider, caller.user.id)
    return _json({"session": session_json(caller.session), "user": user_json(row)}, caller.headers)


async def sign_out(request: Request, provider: EmbeddedBetterAuth) -> Response:
    outcome = await sign_out_flow(request)
    return _json({"success": True}, outcome.headers)


async def request_password_reset(request: Request, provider: EmbeddedBetterAuth) -> Response:
    body = await _body(request, RequestResetBody)
    reset_url: str | None = None
    if body.redirectTo:
        ctx = ee_context(request)
        target = validate_redirect(body.redirectTo, request, ctx.settings)
        if target != body.redirectTo:
            return ba_error(403, "INVALID_REDIRECT_URL", "Invalid redirectURL")
        reset_url = target if urlsplit(target).scheme else ctx.public_origin(request) + target
    outcome = await request_reset_flow(request, body.email, reset_url)
    if not outcome.ok:
        return outcome_error(outcome)
    return _json({"status": True, "message": _RESET_MESSAGE})


async def reset_password(request: Request, provider: EmbeddedBetterAuth) -> Response:
    body = await _body(request, ResetPasswordBody)
    token = body.token or request.query_params.get("token")
    if not token:
        return ba_error(400, "INVALID_TOKEN", "Invalid token")
    outcome = await confirm_reset_flow(request, token, body.newPassword)
    return _json({"status": True}, outcome.headers) if outcome.ok else outcome_error(outcome)


async def list_sessions(request: Request, provider: EmbeddedBetterAuth) -> Response:
    caller, user = await _caller(request)
    slot = ee_context(request).auth.session
    if not isinstance(slot, SupportsSessionListing):
        return ba_error(404, "NOT_FOUND", "Session management not supported")
    sessions = await slot.list_sessions(user.id)
    return _json([session_json(s) for s in sessions], caller.headers)


async def revoke_session(request: Request, provider: EmbeddedBetterAuth) -> Response:
    """Better Auth's ``{status: true}`` whether or not the session was the caller's."""
    caller, user = await _caller(request)
    body = await _body(request, RevokeSessionBody)
    ctx = ee_context(request)
    slot = ctx.auth.session
    if not isinstance(slot, SupportsSessionListing):
        return ba_error(404, "NOT_FOUND", "Session management not supported")
    handle = body.token
    if provider.uses_own_sessions and "." not in handle:
        # A bare Better Auth token (what sign-in returned) names its row too.
        row = await provider.store.find_session(handle)
        handle = row["id"] if row is not None and row["userId"] == user.id else handle
    headers: list[tuple[str, str]] = []
    if await slot.revoke_session(user.id, handle):
        ctx.auth_cache.clear()
        await record(request, "auth.session-revoke", "success", user=user, metadata={"count": 1})
        if caller.session is not None and caller.session.handle == handle:
            headers = [("set-cookie", c) for c in provider.cookie.clear_headers()]
    return _json({"status": True}, headers)


async def change_password(request: Request, provider: EmbeddedBetterAuth) -> Response:
    _, user = await _caller(request)
    body = await _body(request, ChangePasswordBody)
    outcome = await change_password_flow(request, user, body.currentPassword, body.newPassword)
    if not outcome.ok:
        return outcome_error(outcome)
    token = bare_token(outcome.session) if provider.uses_own_sessions else None
    row = await _user_row(provider, user.id)
    return _json({"token": token, "user": user_json(row)}, outcome.headers)


def _image(value: str) -> str:
    # Shown as the user's avatar: only web addresses, never ``javascript:`` or ``data:``.
    if urlsplit(value).scheme.lower() not in {"http", "https"}:
        raise _Refused(ba_error(400, "VALIDATION_ERROR", "[body.image] Invalid URL"))
    return value


async def update_user(request: Request, provider: EmbeddedBetterAuth) -> Response:
    caller, user = await _caller(request)
    body = await _body(request, UpdateUserBody)
    if body.email:
        return ba_error(400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated")
    changes: dict[str, Any] = {}
    if body.name is not None:
        try:
            changes["name"] = check_display_text(body.name.strip(), "Name")
        except TextPolicyError as refused:
            return ba_error(400, "VALIDATION_ERROR", refused.message)
    if "image" in body.model_fields_set:
        changes["image"] = _image(body.image) if body.image else None
    if not changes:
        return ba_error(400, "BAD_REQUEST", "No fields to update")
    await provider.store.update_user(user.id, **changes)
    ee_context(request).auth_cache.clear()
    await record(request, "auth.user-update", "success", user=user, metadata={"fields": sorted(changes)})
    return _json({"status": True}, caller.headers)


def better_auth_routes() -> list[PluginRoute]:
    """The Better Auth endpoints, prefix-relative. Credential endpoints check CSRF even
    without a cookie, like ``/auth/credentials/*``; the others when a cookie is sent."""
    r = PluginRoute

    def public(
        method: str, path: str, handler: Any, summary: str, csrf: Literal["always"] | None = None
    ) -> PluginRoute:
        return r(
            method,
            path,
            _endpoint(handler),
            requires_auth=False,
            csrf=csrf,
            summary=f"Better Auth: {summary}",
            tag="better-auth",
        )

    return [
        public("POST", "/auth/sign-up/email", sign_up_email, "sign up with email", "always"),
        public("POST", "/auth/sign-in/email", sign_in_email, "sign in with email", "always"),
        public("GET", "/auth/get-session", get_session, "the current session and user"),
        public("POST", "/auth/sign-out", sign_out, "sign out", "always"),
        public(
            "POST", "/auth/request-password-reset", request_password_reset, "request a reset link", "always"
        ),
        public("POST", "/auth/reset-password", reset_password, "set a new password with a token", "always"),
        public("GET", "/auth/list-sessions", list_sessions, "the caller's sessions"),
        public("POST", "/auth/revoke-session", revoke_session, "revoke one of the caller's sessions"),
        public("POST", "/auth/change-password", change_password, "change password", "always"),
        public("POST", "/auth/update-user", update_user, "update name or image"),
    ]
