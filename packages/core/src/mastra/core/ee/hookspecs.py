"""Pluggy hook specifications (SPEC 6.4). One hook per EE capability.

Provider factories receive the selected ``name`` and the provider's ``options``
mapping; they return ``None`` for names they do not own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

PROJECT_NAME = "mastra_ee"
ENTRY_POINT_GROUP = "mastra_ee"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: capability name → hook name, in the order the SPEC lists them.
CAPABILITY_HOOKS: dict[str, str] = {
    "user": "mastra_ee_user_provider",
    "session": "mastra_ee_session_provider",
    "sso": "mastra_ee_sso_provider",
    "credentials": "mastra_ee_credentials_provider",
    "rbac": "mastra_ee_rbac_provider",
    "acl": "mastra_ee_acl_provider",
    "audit": "mastra_ee_audit_logger",
    "audit_storage": "mastra_ee_audit_storage",
}


@hookspec
def mastra_ee_user_provider(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``IUserProvider`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_session_provider(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``ISessionProvider`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_sso_provider(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``ISSOProvider`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_credentials_provider(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``ICredentialsProvider`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_rbac_provider(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``IRBACProvider`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_acl_provider(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``IACLProvider`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_audit_logger(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``IAuditLogger`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_audit_storage(name: str, options: Mapping[str, Any]) -> Any:
    """Return an ``IAuditStorage`` for ``name``, or ``None``."""


@hookspec
def mastra_ee_capabilities(context: Any) -> dict[str, Any] | None:
    """Return a fragment deep-merged into ``GET /auth/capabilities`` (SPEC 6.5)."""


@hookspec
def mastra_ee_routes() -> list[Any] | None:
    """Return extra ``mastra.core.ee.routes.Route`` objects mounted under the API prefix."""


@hookspec
def mastra_ee_provider_names() -> dict[str, list[str]] | None:
    """Extension to SPEC 6.4: the provider names a plugin owns, per capability.

    Used only for messages (``Available: ...``) and ``mastra-ee plugins``; selection
    still asks every factory.
    """
