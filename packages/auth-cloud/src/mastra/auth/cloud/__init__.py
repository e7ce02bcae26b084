"""mastra-auth-cloud: Mastra Cloud login + RBAC (``cloud``) and generic OpenID
Connect (``oidc``). See SPEC 10.3."""

from .cloud import MastraCloudAuth, MastraRBACCloud
from .oidc import OIDCAuth

__all__ = ["MastraCloudAuth", "MastraRBACCloud", "OIDCAuth"]
