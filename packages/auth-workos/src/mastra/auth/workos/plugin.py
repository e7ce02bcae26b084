"""Entry point of the ``workos`` provider (group ``mastra_ee``).

Every capability hook returns the SAME provider for one composition
(``mastra.core.ee.options.shared_provider``): one WorkOS client, one JWKS cache,
one membership cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mastra.core.ee import hookimpl
from mastra.core.ee.options import shared_provider
from mastra.core.ee.routes import Route

from . import admin_portal
from .provider import WorkOSAuthProvider
from .webhooks import route as webhook_route

NAME = "workos"


def provider_for(options: Mapping[str, Any]) -> WorkOSAuthProvider:
    return shared_provider(options, WorkOSAuthProvider.from_options)


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
