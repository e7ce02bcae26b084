"""Entry points of ``mastra-auth-cloud``: two plugins, so ``mastra-ee plugins`` lists
each provider by name.

* ``cloud = "mastra.auth.cloud.plugin:cloud"``: Mastra Cloud login (user, session,
  sso) and Cloud RBAC;
* ``oidc = "mastra.auth.cloud.plugin:oidc"``: any OpenID Connect issuer (user,
  session, sso).

One provider instance serves every capability of a name within a composition.
"""

from __future__ import annotations

from mastra.core.ee import ProviderOptions, provider_plugin

from ._options import CloudOptions
from ._provider import MastraCloudAuth
from ._rbac import MastraRBACCloud
from .oidc import OIDCAuth

__all__ = ["cloud", "oidc"]


def cloud_rbac(options: ProviderOptions) -> MastraRBACCloud:
    """``rbac = cloud``: the shared Cloud provider when Cloud is configured (it is also a
    MastraRBACCloud); otherwise a stand-alone MastraRBACCloud (role mapping only)."""
    configured = options.parse(CloudOptions)
    if configured.project_id and configured.cloud_base_url:
        return options.shared(MastraCloudAuth.from_options)
    return MastraRBACCloud.from_options(options)


cloud = provider_plugin(
    "cloud",
    MastraCloudAuth.from_options,
    capabilities=("user", "session", "sso", "rbac"),
    overrides={"rbac": cloud_rbac},
)
oidc = provider_plugin("oidc", OIDCAuth.from_options, capabilities=("user", "session", "sso"))
