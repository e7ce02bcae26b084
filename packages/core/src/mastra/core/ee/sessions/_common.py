"""Pieces shared by the ``memory`` and ``cookie`` session providers: option parsing,
the session cookie (naming, ``Set-Cookie`` formats, reading it back) and registry
selection (SPEC 8.1)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from ..crypto import CookieSpec, clear_cookie, cookie_name, parse_cookie_header, set_cookie
from ..errors import ConfigurationError
from ._registry import MemorySessionRegistry, SessionRegistry

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "DEFAULT_ABSOLUTE_TIMEOUT",
    "DEFAULT_COOKIE_NAME",
    "DEFAULT_IDLE_TIMEOUT",
    "MAX_COOKIE_BYTES",
    "SessionCookie",
    "build_registry",
    "int_option",
    "list_option",
    "settings_of",
    "str_option",
]

DEFAULT_IDLE_TIMEOUT = 1800
DEFAULT_ABSOLUTE_TIMEOUT = 43200
DEFAULT_COOKIE_NAME = "mastra_session"
# Browsers drop cookies whose name + value reach 4096 bytes (S8).
MAX_COOKIE_BYTES = 4096

_COOKIE_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_COOKIE_DOMAIN = re.compile(r"^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def settings_of(options: Mapping[str, Any]) -> Settings:
    """The global settings handed to factories as ``options["_settings"]``.

    Without it (a provider built by hand) the environment/``mastra.toml`` is read.
    """
    from ..settings import Settings

    settings = options.get("_settings")
    return cast("Settings", settings) if settings is not None else Settings()


def int_option(options: Mapping[str, Any], key: str, default: int) -> int:
    """A positive whole number of seconds; env values arrive as strings."""
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool):
            raise TypeError
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ConfigurationError(f"Session option '{key}' must be a whole number of seconds") from None
    if number <= 0:
        raise ConfigurationError(f"Session option '{key}' must be positive")
    return number


def str_option(options: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = options.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ConfigurationError(f"Session option '{key}' must be a string")
    return value.strip() or default


def list_option(options: Mapping[str, Any], key: str) -> list[str]:
    """A list given as a list, a JSON array or a comma list (env)."""
    value = options.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigurationError(f"Session option '{key}' is not a valid JSON list") from None
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"Session option '{key}' must be a list of strings")
    return list(value)


def build_registry(kind: str | None, settings: Settings, *, default: str) -> SessionRegistry | None:
    """``sql`` (project database), ``memory``, or ``none`` (dev only: no revocation)."""
    kind = (kind or default).strip().lower()
    if kind == "sql":
        from ._sql import SQLSessionRegistry

        return SQLSessionRegistry(settings.database_url)
    if kind == "memory":
        return MemorySessionRegistry()
    if kind == "none":
        if not settings.is_dev:
            raise ConfigurationError(
                "Session registry 'none' is only allowed in development: without a registry "
                "sessions cannot be listed or revoked. Use registry = 'sql'."
            )
        return None
    raise ConfigurationError(f"Unknown session registry '{kind}' (expected sql, memory or none)")


def _percent_decode(raw: str) -> str:
    """Percent-decode a cookie value; a malformed escape or non-UTF-8 result → the raw value."""
    if "%" not in raw or _BAD_ESCAPE.search(raw):
        return raw
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return raw


@dataclass(frozen=True, slots=True)
class SessionCookie:
    """The provider's one cookie: final name (``__Host-``/``__Secure-`` in production),
    ``Set-Cookie`` formats of SPEC 8.1, and reading the value back from a request."""

    spec: CookieSpec

    @classmethod
    def create(cls, base_name: str, *, production: bool, secure: bool, domain: str | None) -> SessionCookie:
        if not _COOKIE_NAME.match(base_name):
            raise ConfigurationError(f"Invalid session cookie name {base_name!r}")
        if domain is not None and not _COOKIE_DOMAIN.match(domain):
            raise ConfigurationError(f"Invalid session cookie domain {domain!r}")
        name = cookie_name(base_name, production=production, domain=domain)
        # __Host- and __Secure- cookies are ignored by browsers unless Secure.
        return cls(CookieSpec(name=name, secure=secure or production, domain=domain))

    @property
    def name(self) -> str:
        return self.spec.name

    def fits(self, value: str) -> bool:
        return len(self.spec.name) + 1 + len(value.encode()) < MAX_COOKIE_BYTES

    def set_header(self, value: str, max_age: int) -> tuple[str, str]:
        return ("set-cookie", set_cookie(self.spec, value, max_age=max(0, max_age)))

    def clear_header(self) -> tuple[str, str]:
        return ("set-cookie", clear_cookie(self.spec))

    def read(self, request: Any) -> str | None:
        headers = getattr(request, "headers", None)
        if headers is None:
            return None
        raw = parse_cookie_header(headers.get("cookie")).get(self.spec.name)
        if not raw:
            return None
        return _percent_decode(raw)


def is_https(url: str | None) -> bool:
    return bool(url) and url.strip().lower().startswith("https://")  # type: ignore[union-attr]
