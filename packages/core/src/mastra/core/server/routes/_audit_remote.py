"""``POST /audit/exports/remote`` and ``GET /audit/exports/remote/{exportId}``: exports
made by the audit logger's destination (WorkOS Audit Logs), not by the local storage.

An audit logger offers them by implementing ``SupportsRemoteAuditExport``; with any
other logger (or none) both routes answer 501. They need ``audit:read``, as the local
``GET /audit/export`` does (SPEC 4.4 has no ``export`` action), and the audit license.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator
from starlette.requests import Request
from starlette.responses import Response

from ...ee.interfaces import SupportsRemoteAuditExport
from ...ee.license import is_feature_licensed
from ...ee.models import UTCDateTime
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._bodies import Body, SafeStr
from ._sessions import context

__all__ = ["RemoteExportBody", "remote_export_routes"]

PERMISSION = "audit:read"


def _iso_text(value: Any) -> Any:
    # pydantic alone would also take numbers (Unix time) and date-only strings.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or "T" not in value:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z") from None


IsoDateTime = Annotated[UTCDateTime, BeforeValidator(_iso_text)]
FilterList = list[Annotated[SafeStr, Field(min_length=1, max_length=200)]] | None


class RemoteExportBody(Body):
    """``POST /audit/exports/remote``: a range and the destination's filters (``actions``
    are Mastra action names, ``actors`` actor ids, ``targets`` resource types)."""

    range_start: IsoDateTime = Field(alias="rangeStart")
    range_end: IsoDateTime = Field(alias="rangeEnd")
    actions: FilterList = Field(default=None, max_length=50)
    actors: FilterList = Field(default=None, max_length=50)
    targets: FilterList = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _ordered(self) -> RemoteExportBody:
        if self.range_end <= self.range_start:
            raise ValueError("rangeEnd must be after rangeStart")
        return self


def _remote_exporter(request: Request) -> SupportsRemoteAuditExport | Response:
    """The audit logger when it can export remotely, or the refusal."""
    ctx = context(request)
    if not is_feature_licensed(ctx.auth, "audit"):
        return error_response("Forbidden", 403, message="The audit log API requires a valid EE license")
    logger = ctx.auth.audit
    if not isinstance(logger, SupportsRemoteAuditExport):
        return error_response(
            "Remote export not supported", 501, message="The configured audit logger cannot export remotely"
        )
    return logger


async def create_remote_export(request: Request) -> Response:
    if isinstance(exporter := _remote_exporter(request), Response):
        return exporter
    body: RemoteExportBody = request.state.mastra_body
    user = getattr(request.state, "user", None)
    organization = user.metadata.get("organizationId") if user is not None else None
    export = await exporter.create_remote_export(
        body.range_start,
        body.range_end,
        organization_id=str(organization) if organization else None,
        actions=body.actions,
        actors=body.actors,
        targets=body.targets,
    )
    return json_response(export, 202)


async def get_remote_export(request: Request) -> Response:
    if isinstance(exporter := _remote_exporter(request), Response):
        return exporter
    export = await exporter.get_remote_export(request.path_params["exportId"])
    if export is None:
        return error_response("Export not found", 404)
    return json_response(export)


def remote_export_routes() -> list[ApiRoute]:
    remote = {
        401: "Unauthenticated",
        403: "Forbidden",
        501: "The audit logger cannot export remotely",
        503: "The destination is unavailable",
    }
    return [
        ApiRoute(
            "POST",
            "/audit/exports/remote",
            create_remote_export,
            permission=PERMISSION,
            body=RemoteExportBody,
            tag="audit",
            summary="Start an export at the audit logger's destination (WorkOS Audit Logs)",
            responses={202: "Export", 400: "Invalid request", **remote},
        ),
        ApiRoute(
            "GET",
            "/audit/exports/remote/{exportId}",
            get_remote_export,
            permission=PERMISSION,
            tag="audit",
            summary="A remote export: state, and the download url once ready",
            responses={200: "Export", 404: "Not found", **remote},
        ),
    ]
