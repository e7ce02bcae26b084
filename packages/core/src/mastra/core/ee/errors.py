"""The one exception tree of the EE core.

Everything ``mastra.core.ee`` raises on purpose is a :class:`MastraEEError`; the classes
marked with a module live beside the code that raises them::

    MastraEEError
     ├── ConfigurationError        invalid settings, found at startup (never shown to end users)
     │    ├── PluginError           a plugin failed to load, or two claim one provider name
     │    ├── RefusedInProduction   allowed in development, refused in production (serve exits 2)
     │    └── SecretTooShort *      a secret missing or shorter than its use needs (SPEC 8.1)
     ├── SealError *               a sealed value that does not open (tampered, wrong key, ...)
     ├── InvalidPermission *       a permission string outside the grammar (SPEC 4.1)
     ├── TokenInvalid              a JWT that does not verify (``ee.crypto``)
     ├── AuditCorruptionError *    a stored audit row that cannot be read back (``ee.audit``)
     └── AuthError                 meant for the user: ``code``, ``message``, ``status``
          ├── InvalidCredentials
          ├── SignUpDisabled
          ├── SignUpFailed
          │    └── TextPolicyError
          ├── PasswordPolicyError
          ├── InvalidResetToken
          ├── ProviderUnavailable
          │    └── JWKSUnavailable  verification keys could not be fetched (``ee.crypto``)
          ├── InvalidApiKey         an API key that does not authenticate (``ee.api_keys``)
          ├── RateLimited           adds ``Retry-After``
          ├── RateLimitUnavailable
          ├── RoleNotFound
          └── SSOError              ``code`` ends up in ``login?error=<code>``

``*`` also a ``ValueError``: code that validates input catches ``ValueError`` (and pydantic
turns one raised in a validator into a validation error), as it did when these were
plain ``ValueError`` exceptions.

An :class:`AuthError` renders its own HTTP response, as authlib's ``OAuth2Error`` does:
``status``, :meth:`~AuthError.body` (the SPEC 9 JSON) and :meth:`~AuthError.headers`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConfigurationError",
    "InvalidCredentials",
    "InvalidPermission",
    "InvalidResetToken",
    "MastraEEError",
    "PasswordPolicyError",
    "PluginError",
    "ProviderUnavailable",
    "RateLimitUnavailable",
    "RateLimited",
    "RefusedInProduction",
    "RoleNotFound",
    "SSOError",
    "SealError",
    "SecretTooShort",
    "SignUpDisabled",
    "SignUpFailed",
    "TextPolicyError",
]


def error_body(error: str, message: str | None = None) -> dict[str, Any]:
    """An error's JSON body (SPEC 9): ``{"error", "message"}``; the reference Studio shows
    ``message``, so a body that names only ``error`` repeats it there. The one place this
    rule is written: the server, the studio and :meth:`AuthError.body` all use it."""
    return {"error": error, "message": error if message is None else message}


class MastraEEError(Exception):
    """Base of every exception raised on purpose by ``mastra.core.ee``."""


class ConfigurationError(MastraEEError):
    """Invalid settings or provider selection, found at startup."""


class PluginError(ConfigurationError):
    """A plugin could not be loaded or two plugins claim one provider name."""


class RefusedInProduction(ConfigurationError):
    """A configuration development starts with a warning and production refuses."""


class SecretTooShort(ConfigurationError, ValueError):
    """A secret is missing or shorter than its use needs (SPEC 8.1: at least 32 bytes).

    The message is the text to show the operator, e.g. SPEC 8.3's ``Session secret must
    be at least 32 bytes (256 bits) for AES-256-GCM encryption``.
    """


class SealError(MastraEEError, ValueError):
    """A sealed value could not be opened (tampered, truncated, wrong key, bad format)."""


class InvalidPermission(MastraEEError, ValueError):
    """A permission string that does not follow the grammar of SPEC 4.1; the message says why."""


class AuthError(MastraEEError):
    """An error meant for the user, with the HTTP status it maps to."""

    code: str = "auth_error"
    status: int = 400
    default_message: str = "Authentication error"

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None):
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON body of this error's response (SPEC 9): ``{"error", "message"}``, both
        the message (the reference Studio reads ``message``)."""
        return error_body(self.message)

    def headers(self) -> list[tuple[str, str]]:
        """Headers this error's response carries besides the JSON content type."""
        return []


class InvalidCredentials(AuthError):
    code = "invalid_credentials"
    status = 401
    default_message = "Invalid email or password"

    def __init__(self, message: str | None = None, *, reason: str = "invalid_credentials"):
        # ``reason`` goes to the audit log only; callers always see the same message.
        super().__init__(message)
        self.reason = reason


class SignUpDisabled(AuthError):
    code = "sign_up_disabled"
    status = 403
    default_message = "Sign up is disabled"


class SignUpFailed(AuthError):
    code = "sign_up_failed"
    status = 400
    default_message = "Failed to create account"

    def __init__(self, message: str | None = None, *, reason: str = "sign_up_failed"):
        super().__init__(message)
        self.reason = reason


class TextPolicyError(SignUpFailed):
    """A name or e-mail with control, bidirectional or other invisible characters (S26).

    A ``SignUpFailed`` (SPEC 3.4 names no other sign-up refusal), but its message is
    the policy text to show, e.g. ``Name must not contain a control character (U+0007)``.
    """

    code = "text_policy"
    default_message = "Text contains characters that are not allowed"


class PasswordPolicyError(AuthError):
    code = "password_policy"
    status = 400
    default_message = "Password does not meet the policy"


class InvalidResetToken(AuthError):
    code = "invalid_reset_token"
    status = 400
    default_message = "Invalid or expired reset token"


class ProviderUnavailable(AuthError):
    code = "provider_unavailable"
    status = 503
    default_message = "Auth provider unavailable"


class RateLimited(AuthError):
    """A rate limit is full; ``retry_after`` seconds until a slot frees (``Retry-After``)."""

    code = "rate_limited"
    status = 429
    default_message = "Too many attempts. Try again later."

    def __init__(self, message: str | None = None, *, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> list[tuple[str, str]]:
        return [("retry-after", str(self.retry_after))]


class RateLimitUnavailable(AuthError):
    """The rate-limit store failed: credential routes refuse (fail closed, S21)."""

    code = "rate_limit_unavailable"
    status = 503
    default_message = "Service unavailable"


class RoleNotFound(AuthError):
    code = "role_not_found"
    status = 404
    default_message = "Role not found"


class SSOError(AuthError):
    """Raised by ``handle_callback``; ``code`` ends up in ``login?error=<code>``."""

    status = 400
    default_message = "Single sign-on failed"

    def __init__(self, code: str = "sso_failed", message: str | None = None):
        super().__init__(message, code=code)
