"""Helpers shared by the Cloud and OIDC providers: options, sealing and the
short-lived per-login state that must survive between ``get_login_url`` and
``get_login_cookies`` (the host calls both while serving one login request)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from operator import attrgetter
from typing import ClassVar, Generic, TypeVar

from mastra.core.ee.cache import TTLCache
from mastra.core.ee.crypto import Sealer, constant_time_equals, new_secret
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import Fallbacks, ListOption, OptionsModel
from mastra.core.ee.settings import Settings
from pydantic import Field

__all__ = [
    "BrowserLoginOptions",
    "PendingLogins",
    "UsedStates",
    "build_sealer",
    "default_callback_url",
    "same_secret",
]

logger = logging.getLogger("mastra.auth.cloud")
T = TypeVar("T")


def default_callback_url(settings: Settings) -> str | None:
    if not settings.public_url:
        return None
    return f"{settings.public_url}{settings.normalised_api_prefix}/auth/sso/callback"


_dev_secret: str | None = None


def _process_secret(owner: str) -> str:
    """One random secret per process, for development without ``MASTRA_AUTH_SECRET``."""
    global _dev_secret
    if _dev_secret is None:
        _dev_secret = new_secret(48)
        logger.warning("%s: MASTRA_AUTH_SECRET is not set; using a random per-process secret", owner)
    return _dev_secret


class BrowserLoginOptions(OptionsModel):
    """What the Cloud and OIDC options share: ``secret`` (else ``MASTRA_AUTH_SECRET``)
    seals the login cookie, ``previous_secrets`` still open what older ones sealed.

    Without a secret, a provider that seals (not the Cloud RBAC alone) refuses to start
    in production; development uses one random secret per process (logins in flight do
    not survive a restart).
    """

    #: Names the provider in the messages about its secret.
    owner: ClassVar[str] = "provider"
    fallbacks: ClassVar[Fallbacks] = {"secret": (attrgetter("secret"),)}

    secret: str | None = Field(default=None, repr=False)
    previous_secrets: ListOption = Field(default_factory=list, repr=False)

    def sealing_secret(self) -> str:
        """``secret``, or in development the per-process one."""
        if self.secret:
            return self.secret
        if self.settings.is_production:
            raise ConfigurationError(f"{self.owner} requires MASTRA_AUTH_SECRET (at least 32 characters)")
        return _process_secret(self.owner)


def build_sealer(options: BrowserLoginOptions, *, info: str) -> Sealer:
    """Sealer for a provider cookie; rotation through option ``previous_secrets``."""
    try:
        return Sealer([options.sealing_secret(), *options.previous_secrets], info=info)
    except ValueError as exc:
        raise ConfigurationError(f"{options.owner}: {exc}") from exc


class PendingLogins(Generic[T]):
    """Per-state values created by whichever of ``get_login_url`` / ``get_login_cookies``
    runs first and taken by the second. In-process and bounded; entries expire."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self._items: TTLCache[str, T] = TTLCache(ttl=ttl, max_size=max_entries)
        self._lock = threading.Lock()

    def get_or_create(self, state: str, factory: Callable[[], T]) -> T:
        with self._lock:
            missing = object()
            value = self._items.get(state, missing)
            if value is missing:
                value = factory()
                self._items.set(state, value)
            return value  # type: ignore[return-value]


class UsedStates:
    """Single-use guard for provider state values (S9), in-process, TTL-bounded.

    The host's pending-state store is the primary single-use control; this keeps a
    provider safe on its own (e.g. a host that skipped its check)."""

    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self._items: TTLCache[str, bool] = TTLCache(ttl=ttl, max_size=max_entries)
        self._lock = threading.Lock()

    def consume(self, key: str) -> bool:
        """True the first time ``key`` is seen within the TTL, False afterwards."""
        with self._lock:
            return self._items.add(key, True)


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time equality that treats ``None``/empty as never equal."""
    if not a or not b:
        return False
    return constant_time_equals(a, b)
