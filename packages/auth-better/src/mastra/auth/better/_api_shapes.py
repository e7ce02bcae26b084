"""What Better Auth 1.7's HTTP API reads and writes: request bodies, user/session JSON
and ``{"message", "code"}`` errors (the npm ``better-auth`` client reads both keys).

Error bodies also carry ``error`` (the project's rule that every error body names
``error`` and ``message``); Better Auth's client passes unknown keys through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote

from mastra.core.ee.models import Session, format_timestamp
from mastra.core.server.routes import Body, EmailText, FlowOutcome, PasswordText, SafeStr
from pydantic import Field, ValidationError
from starlette.responses import JSONResponse

__all__ = [
    "ChangePasswordBody",
    "RequestResetBody",
    "ResetPasswordBody",
    "RevokeSessionBody",
    "SignInBody",
    "SignUpBody",
    "UpdateUserBody",
    "ba_error",
    "bare_token",
    "outcome_error",
    "session_json",
    "user_json",
    "validation_error",
]

_Url = Annotated[SafeStr, Field(max_length=2048)]


class SignUpBody(Body):
    email: Annotated[SafeStr, Field(min_length=1, max_length=320)]
    password: PasswordText
    name: Annotated[SafeStr, Field(max_length=200)]
    image: _Url | None = None
    callbackURL: _Url | None = None
    rememberMe: bool | None = None


class SignInBody(Body):
    email: EmailText
    password: PasswordText
    callbackURL: _Url | None = None
    rememberMe: bool | None = None


class RequestResetBody(Body):
    email: EmailText
    redirectTo: _Url | None = None


class ResetPasswordBody(Body):
    newPassword: PasswordText
    token: Annotated[SafeStr, Field(min_length=1, max_length=512)] | None = None


class ChangePasswordBody(Body):
    newPassword: PasswordText
    currentPassword: PasswordText
    revokeOtherSessions: bool | None = None


class RevokeSessionBody(Body):
    token: Annotated[SafeStr, Field(min_length=1, max_length=512)]


class UpdateUserBody(Body):
    name: Annotated[SafeStr, Field(max_length=200)] | None = None
    image: _Url | None = None
    email: SafeStr | None = None  # refused: Better Auth changes e-mails through /change-email


def ba_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> JSONResponse:
    response = JSONResponse({"code": code, "message": message, "error": message}, status_code=status)
    for name, value in headers or []:
        response.raw_headers.append((name.encode("latin-1"), value.encode("latin-1")))
    return response


def validation_error(exc: ValidationError) -> JSONResponse:
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return ba_error(400, "VALIDATION_ERROR", f"[body.{where}] {first['msg']}" if where else first["msg"])


# Our refusal reasons (audit words) as Better Auth's status + code; the message is ours
# where Better Auth has no fixed text for the case (policy and text refusals).
_CODES: dict[str, tuple[int, str, str | None]] = {
    "invalid_credentials": (401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password"),
    "disabled": (401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password"),
    "provider_error": (401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password"),
    "invalid_email": (400, "INVALID_EMAIL", "Invalid email"),
    "sign_up_disabled": (400, "EMAIL_PASSWORD_SIGN_UP_DISABLED", "Email and password sign up is not enabled"),
    "invalid_token": (400, "INVALID_TOKEN", "Invalid token"),
    "invalid_password": (400, "INVALID_PASSWORD", "Invalid password"),
    "rate_limited": (429, "TOO_MANY_REQUESTS", None),
    "rate_limit_unavailable": (503, "SERVICE_UNAVAILABLE", None),
    "provider_unavailable": (503, "SERVICE_UNAVAILABLE", None),
    "not_configured": (404, "NOT_FOUND", None),
    "not_supported": (404, "NOT_FOUND", None),
}


def outcome_error(outcome: FlowOutcome) -> JSONResponse:
    """A refused flow in Better Auth's words (same status families, its codes)."""
    reason = outcome.reason or ""
    message = outcome.error or "Bad request"
    headers = list(outcome.headers)
    if reason in _CODES:
        status, code, fixed = _CODES[reason]
        message = fixed or message
    elif reason == "password_policy":
        status = 400
        code = (
            "PASSWORD_TOO_SHORT"
            if "at least" in message
            else "PASSWORD_TOO_LONG"
            if "at most" in message
            else "INVALID_PASSWORD"
        )
    elif outcome.status == 400 and message == "Failed to create account":
        # Any other refused sign-up, an existing address included (S6: never "already exists").
        status, code, message = 422, "FAILED_TO_CREATE_USER", "Failed to create user"
    else:
        status, code = outcome.status, "BAD_REQUEST" if outcome.status == 400 else "ERROR"
    if status == 429:
        # Better Auth's own limiter answers with ``X-Retry-After``; ours with ``Retry-After``.
        headers += [("x-retry-after", v) for k, v in outcome.headers if k.lower() == "retry-after"]
    return ba_error(status, code, message, headers)


def _iso(value: Any) -> Any:
    return format_timestamp(value) if isinstance(value, datetime) else value


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """A ``user`` row as Better Auth's ``parseUserOutput`` returns it."""
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row.get("name") or "",
        "image": row.get("image"),
        "emailVerified": bool(row.get("emailVerified")),
        "createdAt": _iso(row.get("createdAt")),
        "updatedAt": _iso(row.get("updatedAt")),
    }


def session_json(session: Session) -> dict[str, Any]:
    """A session as Better Auth describes it. ``token`` is the public handle, never the
    secret: ``/revoke-session`` accepts it (docs/decisions.md)."""
    meta = session.metadata or {}
    return {
        "id": session.handle,
        "token": session.handle,
        "userId": session.user_id,
        "expiresAt": _iso(session.expires_at),
        "createdAt": _iso(session.created_at),
        "updatedAt": _iso(session.last_seen_at or session.created_at),
        "ipAddress": meta.get("ip"),
        "userAgent": meta.get("userAgent"),
    }


def bare_token(session: Session | None) -> str | None:
    """The bearer token of a Better Auth cookie session (``token.sig`` → ``token``)."""
    if session is None:
        return None
    token, dot, _ = unquote(session.id).rpartition(".")
    return token if dot else None
