"""Remote Better Auth: a running Better Auth server's REST API."""

from ._client import BetterAuthClient
from ._provider import RemoteBetterAuth

__all__ = ["BetterAuthClient", "RemoteBetterAuth"]
