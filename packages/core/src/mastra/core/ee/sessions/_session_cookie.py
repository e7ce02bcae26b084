"""Pieces shared by the ``memory`` and ``cookie`` session providers: their options,
the session cookie (naming, ``Set-Cookie`` formats, reading it back) and registry
selection (SPEC 8.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pydantic import PositiveInt

from ..crypto import CookieSpec, clear_cookie, cookie_spec, parse_cookie_header, set_cookie
from ..errors import ConfigurationError
from ..options import OptionsModel
from ._registry import MemorySessionRegistry, SessionRegistry

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "DEFAULT_ABSOLUTE_TIMEOUT",
    "DEFAULT_COOKIE_NAME",
    "DEFAULT_IDLE_TIMEOUT",
    "MAX_COOKIE_BYTES",
    "SessionCookie",
    "SessionOptions",
    "build_registry",
]

DEFAULT_IDLE_TIMEOUT = 1800
DEFAULT_ABSOLUTE_TIMEOUT = 43200
DEFAULT_COOKIE_NAME = "mastra_session"
# Browsers drop cookies whose name + value reach 4096 bytes (S8).
MAX_COOKIE_BYTES = 4096

_COOKIE_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_COOKIE_DOMAIN = re.compile(r"^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class SessionOptions(OptionsModel):
    """Options of the ``memory`` and ``cookie`` session providers (SPEC 8.1); timeouts
    are whole seconds (env values arrive as text: ``"1800"``)."""

    provider_name = "session"

    idle_timeout: PositiveInt = DEFAULT_IDLE_TIMEOUT
    absolute_timeout: PositiveInt = DEFAULT_ABSOLUTE_TIMEOUT
    cookie_name: str = DEFAULT_COOKIE_NAME
    cookie_domain: str | None = None
    #: ``sql``, ``memory`` or ``none`` (checked by :func:`build_registry`).
    registry: str | None = None


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
    def create(
        cls, base_name: str, *, production: bool, public_url: str | None, domain: str | None
    ) -> SessionCookie:
        """Validate the configured name and domain, then apply the S8 rule (``cookie_spec``)."""
        if not _COOKIE_NAME.match(base_name):
            raise ConfigurationError(f"Invalid session cookie name {base_name!r}")
        if domain is not None and not _COOKIE_DOMAIN.match(domain):
            raise ConfigurationError(f"Invalid session cookie domain {domain!r}")
        return cls(cookie_spec(base_name, production=production, public_url=public_url, domain=domain))

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
