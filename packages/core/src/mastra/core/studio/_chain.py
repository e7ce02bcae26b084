"""``GET <studio base>_studio/chain-status``: the audit hash-chain verdict for the audit page.

The route lives outside the API prefix, so it asks the server's auth pipeline what the
middleware would: authentication (401) and ``audit:read`` (403, audited), around the
license gate of SPEC 5 (403) and the storage check (503). The verdict carries sequence
numbers and ids only, never hashes of events the caller could not otherwise read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..ee.errors import error_body
from ..ee.license import is_feature_licensed
from ..ee.models import AuditResource
from ..ee.settings import Settings
from ._security import apply_security_headers

if TYPE_CHECKING:
    from ..server import EEContext

__all__ = ["chain_status_endpoint"]

logger = logging.getLogger("mastra.studio")


def _json(
    body: Any, settings: Settings, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> JSONResponse:
    response = JSONResponse(body, status_code=status)
    apply_security_headers(response.headers, settings, html=False)
    response.headers["Cache-Control"] = "no-store"
    for name, value in headers or ():
        response.headers.append(name, value)
    return response


def chain_status_endpoint(ctx: EEContext) -> Any:
    settings = ctx.settings
    auth = ctx.auth

    async def chain_status(request: Request) -> JSONResponse:
        pipeline = ctx.pipeline
        caller = await pipeline.identify(request, sliding=False, query_token=False, cached=False)
        if auth.user is not None and caller.user is None:
            refused = await pipeline.unauthenticated(caller)
            return _json(refused.body, settings, refused.status, refused.response_headers)
        if auth.audit_storage is not None and not is_feature_licensed(auth, "audit"):
            return _json(
                {"error": "Forbidden", "message": "The audit log API requires a valid EE license"},
                settings,
                403,
            )
        if caller.user is not None:
            resource = AuditResource(type="audit", id=request.url.path)
            denied = await pipeline.check_permission(request, caller, ["audit:read"], resource=resource)
            if denied is not None:
                return _json(denied.body, settings, denied.status)
        if auth.audit_storage is None:
            return _json(error_body("Audit storage not configured"), settings, 503)
        from ..ee.audit import verify_chain
        from ..ee.models import AuditFilter, Pagination

        try:
            # Read the newest seq first: the walk below covers at least up to it.
            newest = await auth.audit_storage.list(AuditFilter(), Pagination(page=0, per_page=1))
            last_seq = newest.events[0].seq if newest.events else 0
            report = await verify_chain(auth.audit_storage)
        except Exception:
            logger.exception("studio: audit chain verification failed")
            return _json(error_body("Chain verification failed"), settings, 500)
        body = {
            "ok": bool(report.ok),
            "count": int(report.count),
            "lastSeq": last_seq,
            "brokenSeq": report.broken_seq,
            "brokenId": report.broken_id,
            "reason": report.reason,
        }
        return _json(body, settings, headers=caller.headers)

    return chain_status
