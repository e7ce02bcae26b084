"""Who did what from where: the actor of a request and the one way routes record events.

Every event goes through :func:`mastra.core.ee.audit.emit` (storage, then logger,
failures swallowed). Metadata passed here never holds passwords, tokens or cookies.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..ee.db import is_database_outage
from ..ee.models import AuditActor, AuditEventInput, AuditResource, EEUser

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = ["record", "request_actor"]

logger = logging.getLogger("mastra.server")


def _context(request: HTTPConnection) -> Any:
    return request.app.state.mastra_ee


def request_actor(
    request: HTTPConnection, user: EEUser | None = None, *, email: str | None = None
) -> AuditActor:
    """Actor of the request: the user (``apikey`` for API tokens), else ``unknown``."""
    from ._origin import client_ip

    ctx = _context(request)
    if user is None:
        user = getattr(request.state, "user", None)
    ip = client_ip(request, ctx.settings)
    agent = request.headers.get("user-agent")
    if user is None:
        return AuditActor(type="user", id="unknown", email=email, ip=ip, user_agent=agent)
    kind = "apikey" if user.via_api_key else "user"
    org = user.metadata.get("organizationId")
    # A core API key is the actor by its key id; its owner goes into the event metadata.
    key_id = user.metadata.get("apiKeyId") if kind == "apikey" else None
    return AuditActor(
        type=kind,
        id=key_id if isinstance(key_id, str) else user.id,
        email=user.email,
        ip=ip,
        user_agent=agent,
        organization_id=org if isinstance(org, str) else None,
    )


async def record(
    request: HTTPConnection,
    action: str,
    outcome: str,
    *,
    user: EEUser | None = None,
    email: str | None = None,
    resource: AuditResource | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Build the event and hand it to the audit pipeline; never raises but for a
    database outage that kept an event from being committed before the response
    (:func:`~mastra.core.ee.audit.emit`): the request then answers 503."""
    try:
        from ..ee.audit import emit
        from ._metrics import count_event

        ctx = _context(request)
        if user is not None and resource is None:
            resource = AuditResource(type="user", id=user.id)
        metadata = dict(metadata or {})
        acting = user if user is not None else getattr(request.state, "user", None)
        owner = acting.metadata.get("apiKeyOwner") if isinstance(acting, EEUser) else None
        if isinstance(owner, dict):
            # ``owner``, not ``apiKeyOwner``: the audit log redacts keys naming an API key.
            metadata.setdefault("owner", owner)
        event = AuditEventInput(
            actor=request_actor(request, user, email=email),
            action=action,
            outcome=outcome,
            resource=resource,
            metadata=metadata,
        )
        count_event(request, event)
        await emit(ctx.auth, event)
    except Exception as exc:
        if is_database_outage(exc):
            raise
        logger.exception("failed to record audit event %s", action)
