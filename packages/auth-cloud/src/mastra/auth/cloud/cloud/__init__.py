"""Mastra Cloud: PKCE login, Cloud-verified sessions and single-role RBAC."""

from ._provider import MastraCloudAuth
from ._rbac import MastraRBACCloud, default_role_mapping

__all__ = ["MastraCloudAuth", "MastraRBACCloud", "default_role_mapping"]
