"""Entry point of ``mastra-auth-cloud`` (group ``mastra_ee``).

Names: ``cloud`` (user, session, sso, rbac) and ``oidc`` (user, session, sso). One
provider instance serves every capability of a name: the factories are called once
per capability with equal options, so instances are cached per (settings object,
options) — the host builds a fresh options mapping for each call.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from mastra.core.ee import hookimpl

from .cloud import MastraCloudAuth, MastraRBACCloud
from .oidc import OIDCAuth

CLOUD, OIDC = "cloud", "oidc"

_lock = threading.Lock()
_cache: dict[tuple[str, int, str], tuple[Any, Any]] = {}


def _key(name: str, options: Mapping[str, Any]) -> tuple[str, int, str]:
    plain = {k: v for k, v in options.items() if k != "_settings"}
    return name, id(options.get("_settings")), json.dumps(plain, sort_keys=True, default=repr)


def _shared(name: str, options: Mapping[str, Any], factory: Callable[[Mapping[str, Any]], Any]) -> Any:
    settings = options.get("_settings")
    key = _key(name, options)
    with _lock:
        hit = _cache.get(key)
        # The weak reference guards against a recycled id() of a dead settings object.
        if hit is not None and (hit[0]() if hit[0] is not None else None) is settings:
            return hit[1]
        provider = factory(options)
        try:
            ref = weakref.ref(settings) if settings is not None else None
        except TypeError:
            ref = None
        _cache[key] = (ref, provider)
        if len(_cache) > 64:
            _cache.pop(next(iter(_cache)))
        return provider


@hookimpl
def mastra_ee_provider_names() -> dict[str, list[str]]:
    return {"user": [CLOUD, OIDC], "session": [CLOUD, OIDC], "sso": [CLOUD, OIDC], "rbac": [CLOUD]}


def _identity(name: str, options: Mapping[str, Any]) -> Any:
    if name == CLOUD:
        return _shared(CLOUD, options, MastraCloudAuth.from_options)
    if name == OIDC:
        return _shared(OIDC, options, OIDCAuth.from_options)
    return None


@hookimpl
def mastra_ee_user_provider(name: str, options: Mapping[str, Any]) -> Any:
    return _identity(name, options)


@hookimpl
def mastra_ee_session_provider(name: str, options: Mapping[str, Any]) -> Any:
    return _identity(name, options)


@hookimpl
def mastra_ee_sso_provider(name: str, options: Mapping[str, Any]) -> Any:
    return _identity(name, options)


@hookimpl
def mastra_ee_rbac_provider(name: str, options: Mapping[str, Any]) -> Any:
    """``rbac = cloud``: the shared Cloud provider when it is configured (it is also a
    MastraRBACCloud); otherwise a stand-alone MastraRBACCloud (role mapping only)."""
    if name != CLOUD:
        return None
    if options.get("project_id") and options.get("cloud_base_url"):
        return _shared(CLOUD, options, MastraCloudAuth.from_options)
    return MastraRBACCloud.from_options(options)
