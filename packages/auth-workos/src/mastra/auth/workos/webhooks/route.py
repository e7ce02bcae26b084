"""``POST /auth/workos/webhook`` — public, CSRF-exempt, authenticated by its signature.

Answers 404 unless a WorkOS provider with ``webhook_secret`` is configured (the route
hook has no settings, so "not mounted" is decided per request); 400
``{"error":"Invalid signature"}`` for a missing, malformed, stale or wrong signature
(audited as ``directory.webhook`` failure); otherwise 200 ``{"received":true}`` —
also for replays (processed once) and when processing fails (logged), so WorkOS does
not redeliver an event we cannot handle.

The body is read whole (the signature covers the raw bytes); the core streams it
through the route's ``max_body`` cap first (413 over 1 MiB), so an oversized or
endless body never reaches memory here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mastra.core.ee.audit import emit
from mastra.core.ee.models import AuditActor, AuditEventInput
from starlette.requests import Request
from starlette.responses import JSONResponse

from .._context import client_details, find_provider
from .processing import HANDLED_EVENTS, process_event
from .signature import verify_signature

__all__ = ["PATH", "webhook_endpoint"]

logger = logging.getLogger("mastra.auth.workos")

PATH = "/auth/workos/webhook"
_NO_STORE = {"Cache-Control": "no-store"}


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


async def webhook_endpoint(request: Request) -> JSONResponse:
    auth, provider = find_provider(request)
    if provider is None or not provider.options.webhook_secret:
        return _json({"error": "Not found"}, 404)

    body = await request.body()

    check = verify_signature(request.headers.get("workos-signature"), body, provider.options.webhook_secret)
    if not check:
        ip, user_agent = client_details(request)
        logger.warning("WorkOS webhook rejected: %s signature", check.reason)
        await emit(
            auth,
            AuditEventInput(
                actor=AuditActor(type="system", id="workos-webhook", ip=ip, user_agent=user_agent),
                action="directory.webhook",
                outcome="failure",
                metadata={"reason": f"{check.reason}_signature"},
            ),
        )
        return _json({"error": "Invalid signature"}, 400)

    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        logger.warning("WorkOS webhook with a valid signature but an unreadable body")
        return _json({"received": True})
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        logger.warning("WorkOS webhook without an event name ignored")
        return _json({"received": True})

    event_id = str(event.get("id") or "")
    if event_id:
        try:
            first = await provider.seen_events.first_time(event_id)
        except Exception:
            # Unknown whether another node ran it: not acknowledged, WorkOS retries later.
            logger.warning("WorkOS webhook %s: the replay store is unreachable", event_id, exc_info=True)
            return _json({"error": "Service unavailable", "message": "Webhook replay check unavailable"}, 503)
        if not first:
            logger.info("WorkOS webhook %s already processed; acknowledged again", event_id)
            return _json({"received": True})
    if event["event"] not in HANDLED_EVENTS:
        logger.info("WorkOS webhook event %s ignored", event["event"])
        return _json({"received": True})
    try:
        await process_event(provider, event, auth=auth)
    except Exception:
        logger.exception("WorkOS webhook %s (%s) processing failed", event_id, event["event"])
    if event_id:
        try:
            await provider.seen_events.processed(event_id)
        except Exception:  # the claim still expires: a redelivery then runs it again
            logger.warning("WorkOS webhook %s: could not record it as processed", event_id, exc_info=True)
    return _json({"received": True})
