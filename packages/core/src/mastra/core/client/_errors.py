"""Exceptions raised by the Python client, one per HTTP status class callers act on."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationRequired",
    "MastraClientError",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServiceUnavailable",
    "error_for",
]


class MastraClientError(Exception):
    """A non-2xx answer. ``message`` is the server's ``message``, else ``error``, else a default."""

    def __init__(self, message: str, status: int, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class AuthenticationRequired(MastraClientError):
    """401: no or expired session/token."""


class PermissionDenied(MastraClientError):
    """403: missing permission, license gate or cross-origin rejection."""


class NotFound(MastraClientError):
    """404: unknown resource, or a capability the server does not offer."""


class RateLimited(MastraClientError):
    """429; ``retry_after`` is the server's ``Retry-After`` in seconds, when sent."""

    def __init__(self, message: str, status: int, body: Any = None, retry_after: int | None = None) -> None:
        super().__init__(message, status, body)
        self.retry_after = retry_after


class ServiceUnavailable(MastraClientError):
    """503: auth provider or audit storage unavailable."""


_BY_STATUS: dict[int, type[MastraClientError]] = {
    401: AuthenticationRequired,
    403: PermissionDenied,
    404: NotFound,
    503: ServiceUnavailable,
}


def error_for(status: int, body: Any, default: str, retry_after: str | None = None) -> MastraClientError:
    message = default
    if isinstance(body, dict):
        for key in ("message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                message = value
                break
    if status == 429:
        seconds = int(retry_after) if retry_after and retry_after.isdigit() else None
        return RateLimited(message, status, body, seconds)
    return _BY_STATUS.get(status, MastraClientError)(message, status, body)
