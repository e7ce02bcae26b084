"""Options of the ``better`` provider (SPEC 10.2).

Where SPEC is silent: ``timeout`` (remote HTTP timeout, seconds, default 5),
``origin`` (remote ``Origin`` header; default the public URL, else the Better Auth
server's own origin, which Better Auth always trusts), ``database_url`` (embedded;
default the project database), ``session_expires_in`` (604800, Better Auth's
``expiresIn``), ``session_update_age`` (86400, Better Auth's ``updateAge``) and
``session_max_lifetime`` (2592000: refresh never pushes a session beyond 30 days
after its creation).

Remote mode only, optional: ``admin_email`` / ``admin_password`` (env
``BETTER_AUTH_ADMIN_EMAIL`` / ``BETTER_AUTH_ADMIN_PASSWORD``), an account of the Better
Auth server whose Better Auth role includes ``admin``. The server must run Better
Auth's ``admin`` plugin; the provider signs in as that account and uses the plugin's
endpoints for ``get_user`` and for listing and revoking any user's sessions. Without
it, ``get_user`` answers ``None`` and session management is not offered.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from operator import attrgetter
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import Fallbacks, OptionsModel
from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

__all__ = ["BetterOptions", "ResetSender"]

ResetSender = Callable[[str, str], Awaitable[None]]


def _load_sender(value: Any) -> Any:
    """A callable as is; a ``module:attr`` (or ``module.attr``) path imported."""
    if not isinstance(value, str):
        return value
    module_name, sep, attr = value.partition(":")
    if not sep:
        module_name, _, attr = value.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"cannot import {value!r}: {exc}") from None
    if not callable(target):
        raise ValueError(f"{value!r} is not callable")
    return target


class BetterOptions(OptionsModel):
    """``[auth.options.better]``, checked once for every capability ``better`` serves."""

    provider_name = "better"
    fallbacks: ClassVar[Fallbacks] = {
        "secret": ("BETTER_AUTH_SECRET", attrgetter("secret"), "MASTRA_AUTH_SECRET"),
        "base_url": ("BETTER_AUTH_URL",),
        "database_url": (attrgetter("database_url"),),
        "origin": (attrgetter("public_url"),),
        "admin_email": ("BETTER_AUTH_ADMIN_EMAIL",),
        "admin_password": ("BETTER_AUTH_ADMIN_PASSWORD",),
    }

    mode: Literal["embedded", "remote"] = "embedded"
    secret: str = Field(default="", repr=False)
    base_url: str | None = None
    cookie_prefix: str = "better-auth"
    sign_up_enabled: bool = True
    default_role: str = "viewer"
    password_scheme: Literal["better_scrypt", "argon2"] = "better_scrypt"  # noqa: S105 - a scheme name
    reset_sender: ResetSender | None = None
    database_url: str
    timeout: PositiveFloat = 5.0
    origin: str | None = None
    session_expires_in: PositiveInt = 604800
    session_update_age: PositiveInt = 86400
    session_max_lifetime: PositiveInt = 2592000
    admin_email: str | None = None
    admin_password: str | None = Field(default=None, repr=False)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    _import_sender = field_validator("reset_sender", mode="before")(_load_sender)

    @model_validator(mode="after")
    def _check(self) -> BetterOptions:
        if len(self.secret) < 32:
            raise ConfigurationError(
                "better: a secret of at least 32 characters is required "
                "(option secret, BETTER_AUTH_SECRET or MASTRA_AUTH_SECRET)"
            )
        if self.mode == "remote":
            if not self.base_url:
                raise ConfigurationError(
                    "better: remote mode needs base_url (e.g. http://127.0.0.1:3005/api/auth)"
                )
            parts = urlsplit(self.base_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ConfigurationError(f"better: base_url must be an http(s) URL, not {self.base_url!r}")
        if bool(self.admin_email) != bool(self.admin_password):
            raise ConfigurationError("better: admin_email and admin_password go together (remote mode)")
        return self

    @property
    def has_admin(self) -> bool:
        """Remote mode with an admin account of the Better Auth server (``admin`` plugin)."""
        return self.mode == "remote" and bool(self.admin_email and self.admin_password)

    @property
    def is_dev(self) -> bool:
        return self.settings.is_dev
