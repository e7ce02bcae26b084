"""Remote Better Auth: a running Better Auth server's REST API."""

from ._admin_provider import AdminRemoteBetterAuth
from ._client import BetterAuthClient
from ._provider import RemoteBetterAuth

__all__ = ["AdminRemoteBetterAuth", "BetterAuthClient", "RemoteBetterAuth"]
