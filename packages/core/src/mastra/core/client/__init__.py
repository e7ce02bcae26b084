"""Python client of the Mastra EE HTTP API (httpx; sync and async).

The same operations as the studio's browser module (SPEC 11.1) — capabilities
(cached 60 s), current user (retried only on 503), sign-in/up/out, SSO start,
permission checks with the server's matcher — plus sessions and the audit API
(list, get, stats, streaming export) for scripts and the CLI::

    with MastraClient("http://127.0.0.1:4111") as client:
        client.sign_in("ann@example.com", "correct horse battery")
        for event in client.iter_audit_events(action_prefix="auth."):
            print(event.seq, event.action, event.outcome)

A script or a backend without a user uses an API key (docs/api-keys.md), sent as
``Authorization: Bearer``::

    client = MastraClient("https://mastra.example.com", api_key=os.environ["MASTRA_API_KEY"])
"""

from ._async import AsyncMastraClient
from ._errors import (
    AuthenticationRequired,
    MastraClientError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)
from ._ops import EXPORT_FORMATS, normalise_prefix
from ._permissions import PermissionChecker, permission_checker
from ._sync import MastraClient

__all__ = [
    "EXPORT_FORMATS",
    "AsyncMastraClient",
    "AuthenticationRequired",
    "MastraClient",
    "MastraClientError",
    "NotFound",
    "PermissionChecker",
    "PermissionDenied",
    "RateLimited",
    "ServiceUnavailable",
    "normalise_prefix",
    "permission_checker",
]
