"""mastra-auth-cloud: Mastra Cloud login + RBAC (``cloud``) and generic OpenID
Connect (``oidc``, in :mod:`mastra.auth.cloud.oidc`). See SPEC 10.3.

Modules: ``_provider`` (Cloud PKCE login and Cloud-verified sessions), ``_rbac``
(single-role RBAC), ``_http`` (the Cloud API client), ``_pkce``, and
``_browser_login`` (what the Cloud and OIDC browser logins share: cookies, callback
URL, sealing keys, pending-login and used-state stores).
"""

from ._provider import MastraCloudAuth
from ._rbac import MastraRBACCloud, default_role_mapping
from .oidc import OIDCAuth

__all__ = ["MastraCloudAuth", "MastraRBACCloud", "OIDCAuth", "default_role_mapping"]
