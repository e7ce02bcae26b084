"""Entry point of ``mastra-auth-cloud`` (group ``mastra_ee``).

Names: ``cloud`` (user, session, sso, rbac) and ``oidc`` (user, session, sso). One
provider instance serves every capability of a name within a composition
(``mastra.core.ee.options.shared_provider``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mastra.core.ee import hookimpl
from mastra.core.ee.options import shared_provider

from .cloud import MastraCloudAuth, MastraRBACCloud
from .oidc import OIDCAuth

CLOUD, OIDC = "cloud", "oidc"


@hookimpl
def mastra_ee_provider_names() -> dict[str, list[str]]:
    return {"user": [CLOUD, OIDC], "session": [CLOUD, OIDC], "sso": [CLOUD, OIDC], "rbac": [CLOUD]}


def _identity(name: str, options: Mapping[str, Any]) -> Any:
    if name == CLOUD:
        return shared_provider(options, MastraCloudAuth.from_options)
    if name == OIDC:
        return shared_provider(options, OIDCAuth.from_options)
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
        return shared_provider(options, MastraCloudAuth.from_options)
    return MastraRBACCloud.from_options(options)
