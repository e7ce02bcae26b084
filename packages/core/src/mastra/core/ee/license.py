"""EE license checks (SPEC 5). No signature check yet: the key format is reserved."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from .models import LicenseInfo

__all__ = [
    "FEATURES",
    "clear_license_cache",
    "is_dev_environment",
    "is_ee_enabled",
    "is_feature_enabled",
    "is_feature_licensed",
    "is_license_valid",
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


def is_license_valid() -> bool:
    return _cached_info().valid


def clear_license_cache() -> None:
    global _cache
    with _lock:
        _cache = None
        _warned.clear()


def is_feature_enabled(feature: str) -> bool:
    info = _cached_info()
    if not info.valid:
        return False
    return info.features is None or feature in info.features


def is_dev_environment() -> bool:
    if os.environ.get("MASTRA_DEV", "").strip().lower() in {"true", "1"}:
        return True
    return os.environ.get("MASTRA_ENV", "").strip().lower() not in {"production", "prod"}


def is_ee_enabled() -> bool:
    return is_dev_environment() or is_license_valid()


def is_feature_licensed(auth: Any, feature: str) -> bool:
    if getattr(auth, "is_mastra_cloud_auth", False):
        return True
    if is_dev_environment():
        return True
    return is_license_valid() and is_feature_enabled(feature)


def warn_dev_unlicensed_once() -> None:
    """Once per process, when a gated feature runs in dev without a valid license."""
    if is_dev_environment() and not is_license_valid():
        _warn_once("dev", _DEV_WARNING)
