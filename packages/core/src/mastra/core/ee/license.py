"""EE license checks (SPEC 5). No signature check yet: the key format is reserved.

Every check takes optional :class:`~mastra.core.ee.settings.Settings`: its
``ee_license``, ``dev`` and ``env`` (which already hold ``MASTRA_EE_LICENSE``,
``MASTRA_DEV`` and ``MASTRA_ENV`` or their ``mastra.toml`` values) come first, and the
environment is the fallback for what they leave unset. ``build_auth`` passes its
settings and keeps them on the composed provider, where :func:`is_feature_licensed`
finds them; nothing here writes the environment.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from .models import LicenseInfo

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "FEATURES",
    "clear_license_cache",
    "is_dev_environment",
    "is_ee_enabled",
    "is_feature_enabled",
    "is_feature_licensed",
    "is_license_valid",
    "license_key",
    "validate_license",
    "warn_dev_unlicensed_once",
]

logger = logging.getLogger("mastra.ee")

FEATURES = ["user", "session", "sso", "credentials", "rbac", "acl", "audit"]
_CACHE_SECONDS = 60.0
_INVALID_WARNING = "[mastra-ee] Invalid or expired EE license. EE features are disabled."
_DEV_WARNING = (
    "[mastra-ee] Enterprise features are enabled for local development, but no valid "
    "MASTRA_EE_LICENSE is configured. These features will be disabled in production without a valid license."
)

_lock = threading.Lock()
_cache: tuple[float, LicenseInfo] | None = None
_warned: set[str] = set()


def validate_license(key: str | None = None) -> LicenseInfo:
    key = key if key is not None else os.environ.get("MASTRA_EE_LICENSE")
    if not key or len(key.strip()) < 32:
        return LicenseInfo(valid=False)
    return LicenseInfo(valid=True, tier="enterprise", features=list(FEATURES))


def license_key(settings: Settings | None = None) -> str | None:
    """The configured key: ``settings.ee_license``, else ``MASTRA_EE_LICENSE``."""
    if settings is not None and settings.ee_license is not None:
        return settings.ee_license.get_secret_value()
    return os.environ.get("MASTRA_EE_LICENSE")


def _license_info(settings: Settings | None) -> LicenseInfo:
    if settings is None or settings.ee_license is None:
        return _cached_info()
    info = validate_license(settings.ee_license.get_secret_value())
    if not info.valid:
        _warn_once("invalid", _INVALID_WARNING)
    return info


def _cached_info() -> LicenseInfo:
    global _cache
    with _lock:
        now = time.monotonic()
        if _cache is not None and now - _cache[0] < _CACHE_SECONDS:
            return _cache[1]
        info = validate_license()
        _cache = (now, info)
    if not info.valid and os.environ.get("MASTRA_EE_LICENSE"):
        _warn_once("invalid", _INVALID_WARNING)
    return info


def _warn_once(key: str, message: str) -> None:
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(message)


def is_license_valid(settings: Settings | None = None) -> bool:
    """Whether the key is valid; the environment's key is re-validated at most every 60 s."""
    return _license_info(settings).valid


def clear_license_cache() -> None:
    global _cache
    with _lock:
        _cache = None
        _warned.clear()


def is_feature_enabled(feature: str, settings: Settings | None = None) -> bool:
    info = _license_info(settings)
    if not info.valid:
        return False
    return info.features is None or feature in info.features


def is_dev_environment(settings: Settings | None = None) -> bool:
    """``MASTRA_DEV`` true wins (even in production); otherwise not ``MASTRA_ENV=production``."""
    dev = settings.dev if settings is not None else None
    if dev is None:
        dev = os.environ.get("MASTRA_DEV", "").strip().lower() in {"true", "1"}
    if dev:
        return True
    env = (settings.env if settings is not None else None) or os.environ.get("MASTRA_ENV", "")
    return env.strip().lower() not in {"production", "prod"}


def is_ee_enabled(settings: Settings | None = None) -> bool:
    return is_dev_environment(settings) or is_license_valid(settings)


def is_feature_licensed(auth: Any, feature: str) -> bool:
    """For a composed provider: Cloud auth, dev, or a valid license with ``feature``.
    Reads the settings ``build_auth`` kept on ``auth`` (the environment without them)."""
    if getattr(auth, "is_mastra_cloud_auth", False):
        return True
    settings = getattr(auth, "settings", None)
    if is_dev_environment(settings):
        return True
    return is_license_valid(settings) and is_feature_enabled(feature, settings)


def warn_dev_unlicensed_once(settings: Settings | None = None) -> None:
    """Once per process, when a gated feature runs in dev without a valid license."""
    if is_dev_environment(settings) and not is_license_valid(settings):
        _warn_once("dev", _DEV_WARNING)
