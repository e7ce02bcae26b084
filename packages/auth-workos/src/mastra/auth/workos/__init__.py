"""WorkOS for Mastra EE: AuthKit SSO, sealed ``wos_session`` sessions, users, RBAC from
organization memberships, the directory-sync webhook (verified in
``mastra.auth.workos.webhooks.signature``), audit export and the Admin Portal."""

from ._options import WorkOSOptions, derive_fernet_key
from .audit_export import flatten_metadata, to_workos_event
from .provider import WorkOSAuthProvider
from .users import map_user
from .webhooks import sign as sign_webhook
from .webhooks import verify_signature as verify_webhook_signature

__all__ = [
    "WorkOSAuthProvider",
    "WorkOSOptions",
    "derive_fernet_key",
    "flatten_metadata",
    "map_user",
    "sign_webhook",
    "to_workos_event",
    "verify_webhook_signature",
]
