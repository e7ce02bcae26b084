"""The ``GET /auth/capabilities`` body (SPEC 7) and plugin fragment merging (SPEC 6.5).

The caller (the HTTP route) resolves the user, including the transparent refresh, and
passes it in; this module only shapes the answer, so it is easy to test for every case.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .interfaces import SupportsServiceAccounts, maybe_await
from .license import is_feature_licensed, warn_dev_unlicensed_once
from .models import EEUser, SSOLoginConfig

if TYPE_CHECKING:
    from .plugins import PluginRegistry
    from .provider import MastraAuthProvider
    from .settings import Settings

__all__ = [
    "GATED_FEATURES",
    "CapabilityContext",
    "build_capabilities",
    "deep_merge_fragment",
    "sso_login_url",
]

logger = logging.getLogger("mastra.ee")

GATED_FEATURES = ("rbac", "acl", "audit")
_ADMIN = frozenset({"*", "*:*"})

_warned_keys: set[str] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class CapabilityContext:
    """What a ``mastra_ee_capabilities(context)`` hook sees."""

    request: Any
    user: EEUser | None
    auth: MastraAuthProvider
    licensed: dict[str, bool]
    api_prefix: str
    #: the user's resolved permissions when RBAC is active, else ``None``
    permissions: list[str] | None = None


def sso_login_url(api_prefix: str) -> str:
    """``<prefix>/auth/sso/login``: prefix trimmed, leading ``/`` added, one trailing ``/`` dropped."""
    prefix = api_prefix.strip()
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    if prefix.endswith("/"):
        prefix = prefix[:-1]
    return f"{prefix}/auth/sso/login"


def deep_merge_fragment(
    target: dict[str, Any], fragment: Mapping[str, Any], _path: str = ""
) -> dict[str, Any]:
    """Merge a plugin fragment into ``target`` in place: dicts merge recursively, new keys
    are added, and a key whose value is not a dict on both sides keeps the target's
    (core) value, with a one-time warning per key path."""
    for key, value in fragment.items():
        path = f"{_path}.{key}" if _path else str(key)
        if key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], dict) and isinstance(value, Mapping):
            deep_merge_fragment(target[key], value, path)
        else:
            with _warned_lock:
                first = path not in _warned_keys
                _warned_keys.add(path)
            if first:
                logger.warning(
                    "capabilities fragment key '%s' conflicts with an existing value; kept the core value",
                    path,
                )
    return target


async def _login(
    auth: MastraAuthProvider, settings: Settings | None, api_prefix: str
) -> dict[str, Any] | None:
    has_sso = auth.sso is not None
    has_credentials = auth.credentials is not None
    if not has_sso and not has_credentials:
        return None
    sso: dict[str, Any] | None = None
    if has_sso and auth.sso is not None:
        button = await maybe_await(auth.sso.get_login_button_config())
        data = button.to_json() if isinstance(button, SSOLoginConfig) else dict(button)
        sso = {**data, "url": sso_login_url(api_prefix)}
    login: dict[str, Any] = {
        "type": "both" if has_sso and has_credentials else "sso" if has_sso else "credentials"
    }
    if has_credentials:
        toggle = getattr(auth.credentials, "is_sign_up_enabled", None)
        login["signUpEnabled"] = bool(await maybe_await(toggle())) if callable(toggle) else True
    description = settings.auth.login_description if settings is not None else None
    if not description and sso is not None:
        description = sso.get("description")
    if description:
        login["description"] = description
    if sso is not None:
        login["sso"] = sso
    return login


async def _available_roles(rbac: Any) -> list[dict[str, str]] | None:
    try:
        listed = await maybe_await(rbac.get_available_roles())
        roles = [_role_ref(role) for role in listed]
    except Exception as exc:  # a provider failure only hides the preview list
        logger.warning("failed to list available roles for admin user: %s", exc)
        return None
    lookup = getattr(rbac, "get_permissions_for_role", None)
    if not callable(lookup):
        return roles

    async def permissions_of(role_id: str) -> list[str]:
        return list(await maybe_await(lookup(role_id)))

    results = await asyncio.gather(*(permissions_of(r["id"]) for r in roles), return_exceptions=True)
    kept: list[dict[str, str]] = []
    for role, result in zip(roles, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            logger.warning("failed to list permissions for role %s: %s", role["id"], result)
        elif not _ADMIN.intersection(result):
            kept.append(role)
    return kept


def _role_ref(role: Any) -> dict[str, str]:
    if isinstance(role, Mapping):
        role_id = str(role["id"])
        return {"id": role_id, "name": str(role.get("name") or role_id)}
    role_id = str(role.id)
    return {"id": role_id, "name": str(getattr(role, "name", None) or role_id)}


async def _access(rbac: Any, user: EEUser) -> dict[str, list[str]] | None:
    try:
        roles, permissions = await asyncio.gather(
            maybe_await(rbac.get_roles(user)), maybe_await(rbac.get_permissions(user))
        )
    except Exception as exc:  # SPEC 7 rule 9: any error → null
        logger.warning("failed to resolve roles/permissions for user %s: %s", user.id, exc)
        return None
    return {"roles": list(roles), "permissions": list(permissions)}


async def build_capabilities(
    auth: MastraAuthProvider,
    user: EEUser | None,
    *,
    request: Any = None,
    settings: Settings | None = None,
    registry: PluginRegistry | None = None,
) -> dict[str, Any]:
    """The capabilities body for ``user`` (already authenticated and refreshed by the caller).

    Plugin fragments are merged into the public and authenticated shapes; the disabled
    shape stays exactly ``{"enabled": false, "login": null}``.
    """
    if auth.user is None:
        return {"enabled": False, "login": None}
    raw_prefix = settings.api_prefix if settings is not None else "/api"
    api_prefix = settings.normalised_api_prefix if settings is not None else "/api"
    body: dict[str, Any] = {"enabled": True, "login": await _login(auth, settings, raw_prefix)}
    licensed = {feature: is_feature_licensed(auth, feature) for feature in GATED_FEATURES}
    permissions: list[str] | None = None
    if user is not None:
        flags = auth.get_capabilities()
        for feature in GATED_FEATURES:
            flags[feature] = flags[feature] and licensed[feature]
        if any(flags[f] for f in GATED_FEATURES):
            warn_dev_unlicensed_once()
        access = await _access(auth.rbac, user) if flags["rbac"] else None
        body["user"] = user.public_json()
        body["capabilities"] = flags
        body["access"] = access
        if auth.api_keys is not None:
            # Issue #15: the studio's "API keys" page (SPEC 7's flags stay as they are).
            service_accounts = isinstance(auth.api_keys, SupportsServiceAccounts)
            body["apiKeys"] = {"enabled": True, "serviceAccounts": service_accounts}
        if access is not None:
            permissions = access["permissions"]
            if _ADMIN.intersection(permissions) and callable(getattr(auth.rbac, "get_available_roles", None)):
                available = await _available_roles(auth.rbac)
                if available is not None:
                    body["availableRoles"] = available
    registry = registry if registry is not None else getattr(auth, "plugin_registry", None)
    if registry is not None:
        context = CapabilityContext(request, user, auth, licensed, api_prefix, permissions)
        for fragment in registry.capability_fragments(context):
            deep_merge_fragment(body, fragment)
    return body
