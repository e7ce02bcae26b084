"""Options of the ``better`` provider (SPEC 10.2), read once from the options mapping.

Where SPEC is silent: ``timeout`` (remote HTTP timeout, seconds, default 5),
``origin`` (remote ``Origin`` header; default the public URL, else the Better Auth
server's own origin, which Better Auth always trusts), ``database_url`` (embedded;
default the project database), ``session_expires_in`` (604800, Better Auth's
``expiresIn``), ``session_update_age`` (86400, Better Auth's ``updateAge``) and
``session_max_lifetime`` (2592000: refresh never pushes a session beyond 30 days
after its creation).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mastra.core.ee.errors import ConfigurationError

__all__ = ["BetterOptions", "ResetSender"]

ResetSender = Callable[[str, str], Awaitable[None]]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"better: expected a boolean, got {value!r}")


def _as_number(value: Any, default: float, name: str) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"better: option {name} must be a number") from None
    if number <= 0:
        raise ConfigurationError(f"better: option {name} must be positive")
    return number


def _load_sender(value: Any) -> ResetSender | None:
    if value is None or value == "":
        return None
    if callable(value):
        return value  # type: ignore[no-any-return]
    path = str(value)
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"better: cannot import reset_sender {path!r}: {exc}") from exc
    if not callable(target):
        raise ConfigurationError(f"better: reset_sender {path!r} is not callable")
    return target  # type: ignore[no-any-return]


@dataclass(frozen=True)
class BetterOptions:
    mode: str
    secret: str
    base_url: str | None
    cookie_prefix: str
    sign_up_enabled: bool
    default_role: str
    password_scheme: str
    reset_sender: ResetSender | None
    database_url: str
    timeout: float
    origin: str | None
    secure_cookies: bool
    is_dev: bool
    session_expires_in: int
    session_update_age: int
    session_max_lifetime: int

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> BetterOptions:
        settings = options.get("_settings")
        mode = str(options.get("mode") or "embedded").strip().lower()
        if mode not in {"embedded", "remote"}:
            raise ConfigurationError(f"better: mode must be 'embedded' or 'remote', not {mode!r}")
        secret = (
            options.get("secret")
            or os.environ.get("BETTER_AUTH_SECRET")
            or (settings.secret if settings is not None else None)
            or os.environ.get("MASTRA_AUTH_SECRET")
        )
        if not secret or len(str(secret)) < 32:
            raise ConfigurationError(
                "better: a secret of at least 32 characters is required "
                "(option secret, BETTER_AUTH_SECRET or MASTRA_AUTH_SECRET)"
            )
        base_url = options.get("base_url") or os.environ.get("BETTER_AUTH_URL")
        if mode == "remote":
            if not base_url:
                raise ConfigurationError(
                    "better: remote mode needs base_url (e.g. http://127.0.0.1:3005/api/auth)"
                )
            parts = urlsplit(str(base_url))
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ConfigurationError(f"better: base_url must be an http(s) URL, not {base_url!r}")
        public_url = getattr(settings, "public_url", None) if settings is not None else None
        production = bool(getattr(settings, "is_production", False)) if settings is not None else False
        secure = public_url.startswith("https://") if public_url else production
        password_scheme = str(options.get("password_scheme") or "better_scrypt")
        if password_scheme not in {"better_scrypt", "argon2"}:
            raise ConfigurationError("better: password_scheme must be 'better_scrypt' or 'argon2'")
        database_url = options.get("database_url") or (
            settings.database_url if settings is not None else "sqlite+aiosqlite:///./.mastra/mastra.db"
        )
        return cls(
            mode=mode,
            secret=str(secret),
            base_url=str(base_url).rstrip("/") if base_url else None,
            cookie_prefix=str(options.get("cookie_prefix") or "better-auth"),
            sign_up_enabled=_as_bool(options.get("sign_up_enabled"), True),
            default_role=str(options.get("default_role") or "viewer"),
            password_scheme=password_scheme,
            reset_sender=_load_sender(options.get("reset_sender")),
            database_url=str(database_url),
            timeout=_as_number(options.get("timeout"), 5.0, "timeout"),
            origin=str(options.get("origin") or public_url or "") or None,
            secure_cookies=secure,
            is_dev=bool(getattr(settings, "is_dev", True)) if settings is not None else True,
            session_expires_in=int(
                _as_number(options.get("session_expires_in"), 604800, "session_expires_in")
            ),
            session_update_age=int(
                _as_number(options.get("session_update_age"), 86400, "session_update_age")
            ),
            session_max_lifetime=int(
                _as_number(options.get("session_max_lifetime"), 2592000, "session_max_lifetime")
            ),
        )
