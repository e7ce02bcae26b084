"""Helpers shared by the Cloud and OIDC providers: options, cookies, sealing and the
short-lived per-login state that must survive between ``get_login_url`` and
``get_login_cookies`` (the host calls both while serving one login request)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from mastra.core.ee.crypto import CookieSpec, Sealer, constant_time_equals, cookie_name, new_secret
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.settings import Settings

__all__ = [
    "PendingLogins",
    "UsedStates",
    "build_sealer",
    "cookie_spec",
    "default_callback_url",
    "get_option",
    "previous_secrets",
    "resolve_secret",
    "same_secret",
    "settings_of",
]

logger = logging.getLogger("mastra.auth.cloud")
T = TypeVar("T")


def settings_of(options: Mapping[str, Any]) -> Settings:
    settings = options.get("_settings")
    return settings if isinstance(settings, Settings) else Settings()


def get_option(options: Mapping[str, Any], key: str, env: str | None = None, default: Any = None) -> Any:
    """Option value, else the provider-specific env fallback (SPEC 1.3), else ``default``."""
    value = options.get(key)
    if value is None or value == "":
        value = os.environ.get(env) if env else None
    return default if value is None or value == "" else value


def _https_public_url(settings: Settings) -> bool:
    return bool(settings.public_url and settings.public_url.lower().startswith("https://"))


def cookie_spec(settings: Settings, base: str, domain: str | None = None) -> CookieSpec:
    """``__Host-`` names and ``Secure`` in production (SPEC 8.1); ``Secure`` also on https."""
    production = settings.is_production
    return CookieSpec(
        name=cookie_name(base, production=production, domain=domain),
        secure=production or _https_public_url(settings),
        domain=domain,
    )


def default_callback_url(settings: Settings) -> str | None:
    if not settings.public_url:
        return None
    return f"{settings.public_url}{settings.normalised_api_prefix}/auth/sso/callback"


_dev_secret: str | None = None


def resolve_secret(options: Mapping[str, Any], settings: Settings, *, owner: str) -> str:
    """Option ``secret``, else ``MASTRA_AUTH_SECRET``.

    Without either, development gets one random secret per process (logins do not
    survive a restart) and production refuses to start.
    """
    global _dev_secret
    secret = options.get("secret") or settings.secret
    if not secret:
        if settings.is_production:
            raise ConfigurationError(f"{owner} requires MASTRA_AUTH_SECRET (at least 32 characters)")
        if _dev_secret is None:
            _dev_secret = new_secret(48)
            logger.warning("%s: MASTRA_AUTH_SECRET is not set; using a random per-process secret", owner)
        secret = _dev_secret
    return str(secret)


def previous_secrets(options: Mapping[str, Any]) -> list[str]:
    previous = options.get("previous_secrets") or []
    if isinstance(previous, str):
        previous = [p.strip() for p in previous.split(",") if p.strip()]
    return [str(p) for p in previous]


def build_sealer(options: Mapping[str, Any], settings: Settings, *, info: str, owner: str) -> Sealer:
    """Sealer for a provider cookie; rotation through option ``previous_secrets``."""
    secret = resolve_secret(options, settings, owner=owner)
    try:
        return Sealer([secret, *previous_secrets(options)], info=info)
    except ValueError as exc:
        raise ConfigurationError(f"{owner}: {exc}") from exc


class PendingLogins(Generic[T]):
    """Per-state values created by whichever of ``get_login_url`` / ``get_login_cookies``
    runs first and taken by the second. In-process and bounded; entries expire."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_create(self, state: str, factory: Any) -> T:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            item = self._items.get(state)
            if item is None:
                item = (now + self._ttl, factory())
                self._items[state] = item
                while len(self._items) > self._max:
                    self._items.popitem(last=False)
            return item[1]

    def _expire(self, now: float) -> None:
        while self._items:
            key, (deadline, _) = next(iter(self._items.items()))
            if deadline > now:
                break
            self._items.pop(key, None)


class UsedStates:
    """Single-use guard for provider state values (S9), in-process, TTL-bounded.

    The host's pending-state store is the primary single-use control; this keeps a
    provider safe on its own (e.g. a host that skipped its check)."""

    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def consume(self, key: str) -> bool:
        """True the first time ``key`` is seen within the TTL, False afterwards."""
        now = time.monotonic()
        with self._lock:
            while self._items:
                first, deadline = next(iter(self._items.items()))
                if deadline > now:
                    break
                self._items.pop(first, None)
            if key in self._items:
                return False
            self._items[key] = now + self._ttl
            while len(self._items) > self._max:
                self._items.popitem(last=False)
            return True


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time equality that treats ``None``/empty as never equal."""
    if not a or not b:
        return False
    return constant_time_equals(a, b)
