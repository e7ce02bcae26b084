"""``GET <studio base>_studio/chain-status``: the audit hash-chain verdict for the audit page.

The route lives outside the API prefix, so it performs the API's checks itself:
authentication (401), the license gate of SPEC 5 (403), ``audit:read`` (403) and the
storage check (503). The verdict carries sequence numbers and ids only, never hashes
of events the caller could not otherwise read.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..ee.license import is_feature_licensed
from ..ee.provider import MastraAuthProvider
from ..ee.settings import Settings
from ._security import apply_security_headers
from ._viewer import resolve_viewer

__all__ = ["chain_status_endpoint"]

logger = logging.getLogger("mastra.studio")


def _json(body: Any, settings: Settings, status: int = 200) -> JSONResponse:
    response = JSONResponse(body, status_code=status)
    apply_security_headers(response.headers, settings, html=False)
    response.headers["Cache-Control"] = "no-store"
    return response


def chain_status_endpoint(settings: Settings, auth: MastraAuthProvider | None) -> Any:
    async def chain_status(request: Request) -> JSONResponse:
        viewer = await resolve_viewer(auth, request)
        if viewer.auth_enabled and not viewer.authenticated:
            return _json({"error": "Invalid or expired token"}, settings, 401)
        if auth is not None and auth.audit_storage is not None and not is_feature_licensed(auth, "audit"):
            return _json(
                {"error": "Forbidden", "message": "The audit log API requires a valid EE license"},
                settings,
                403,
            )
        if not viewer.can("audit:read"):
            return _json(
                {"error": "Forbidden", "message": "Missing required permission: audit:read"}, settings, 403
            )
        if auth is None or auth.audit_storage is None:
            return _json({"error": "Audit storage not configured"}, settings, 503)
        from ..ee.audit import verify_chain
        from ..ee.models import AuditFilter, Pagination

        try:
            # Read the newest seq first: the walk below covers at least up to it.
            newest = await auth.audit_storage.list(AuditFilter(), Pagination(page=0, per_page=1))
            last_seq = newest.events[0].seq if newest.events else 0
            report = await verify_chain(auth.audit_storage)
        except Exception:
            logger.exception("studio: audit chain verification failed")
            return _json({"error": "Chain verification failed"}, settings, 500)
        response = _json(
            {
                "ok": bool(report.ok),
                "count": int(report.count),
                "lastSeq": last_seq,
                "brokenSeq": report.broken_seq,
                "brokenId": report.broken_id,
                "reason": report.reason,
            },
            settings,
        )
        for cookie in viewer.set_cookies:
            response.headers.append("set-cookie", cookie)
        return response

    return chain_status
