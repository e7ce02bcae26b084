"""Entry point of the ``workos`` provider (group ``mastra_ee``).

Every capability hook returns the SAME provider for one options set. The host builds a
fresh options mapping per capability, so instances are cached by the settings object
and the options' content (not the mapping's identity).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from mastra.core.ee import hookimpl
from mastra.core.ee.routes import Route

from . import admin_portal
from .provider import WorkOSAuthProvider
from .webhooks import route as webhook_route

NAME = "workos"
_lock = threading.Lock()
_MAX_INSTANCES = 32
# (id(settings), options content) -> (settings kept alive so its id is not reused, provider)
_instances: OrderedDict[tuple[int, str], tuple[Any, WorkOSAuthProvider]] = OrderedDict()


def _key(options: Mapping[str, Any]) -> str:
    public = {k: v for k, v in options.items() if k != "_settings"}
    return json.dumps(public, sort_keys=True, default=repr)


def provider_for(options: Mapping[str, Any]) -> WorkOSAuthProvider:
    settings = options.get("_settings")
    key = (id(settings), _key(options))
    with _lock:
        entry = _instances.get(key)
        if entry is None:
            entry = _instances[key] = (settings, WorkOSAuthProvider.from_options(options))
            while len(_instances) > _MAX_INSTANCES:
                _instances.popitem(last=False)
        _instances.move_to_end(key)
        return entry[1]


def _create(name: str, options: Mapping[str, Any]) -> WorkOSAuthProvider | None:
    return provider_for(options) if name == NAME else None


@hookimpl
def mastra_ee_provider_names() -> dict[str, list[str]]:
    return {cap: [NAME] for cap in ("user", "session", "sso", "rbac", "audit")}


@hookimpl
def mastra_ee_user_provider(name: str, options: Mapping[str, Any]) -> Any:
    return _create(name, options)


@hookimpl
def mastra_ee_session_provider(name: str, options: Mapping[str, Any]) -> Any:
    return _create(name, options)


@hookimpl
def mastra_ee_sso_provider(name: str, options: Mapping[str, Any]) -> Any:
    return _create(name, options)


@hookimpl
def mastra_ee_rbac_provider(name: str, options: Mapping[str, Any]) -> Any:
    return _create(name, options)


@hookimpl
def mastra_ee_audit_logger(name: str, options: Mapping[str, Any]) -> Any:
    return _create(name, options)


@hookimpl
def mastra_ee_routes() -> list[Route]:
    return [
        Route(
            method="POST",
            path=webhook_route.PATH,
            endpoint=webhook_route.webhook_endpoint,
            requires_auth=False,
            csrf=False,
        ),
        Route(
            method="GET",
            path=admin_portal.PATH,
            endpoint=admin_portal.admin_portal_endpoint,
            permission=admin_portal.PERMISSION,
        ),
    ]


@hookimpl
def mastra_ee_capabilities(context: Any) -> dict[str, Any] | None:
    return admin_portal.capabilities_fragment(context)
