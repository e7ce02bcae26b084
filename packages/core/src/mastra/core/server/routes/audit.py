"""``/audit*`` routes (SPEC 9.6): list, export (streamed), stats, get by id, and
exports made by the audit logger's destination (``/audit/exports/remote``).

Read-only by design (S14): there is no update or delete route. The middleware
requires ``audit:read`` (derived from ``GET /audit``; explicit on the remote export
routes, which read the log elsewhere); these handlers add the license gate and the
storage or exporter check.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...ee.interfaces import IAuditStorage
from ...ee.license import is_feature_licensed
from ...ee.models import AuditFilter, AuditPage, PageInfo, Pagination, UTCDateTime, utcnow
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._audit_remote import remote_export_routes
from ._bodies import Body, SafeStr
from ._sessions import context

__all__ = ["audit_routes"]

MAX_STATS_RANGE = timedelta(days=31)
Text = Annotated[SafeStr, Field(max_length=500)]


def _actor_type(value: Any) -> Any:
    # Mastra's own audit UI says ``api-key``; the stored actor type is ``apikey``.
    return "apikey" if value == "api-key" else value


#: ``api-key`` is listed so the OpenAPI document shows it; it is stored as ``apikey``.
ActorTypeParam = Annotated[
    Literal["user", "system", "apikey", "api-key"] | None, BeforeValidator(_actor_type)
]


class AuditQuery(Body):
    multi_value_fields: ClassVar[tuple[str, ...]] = ("action",)

    actor_id: Text | None = Field(default=None, alias="actorId")
    actor_type: Annotated[
        Literal["user", "system", "apikey", "api-key"] | None, BeforeValidator(_actor_type)
    ] = Field(default=None, alias="actorType")
    action: list[Annotated[SafeStr, Field(max_length=200)]] | None = Field(default=None, max_length=50)
    action_prefix: Text | None = Field(default=None, alias="actionPrefix")
    resource_type: Text | None = Field(default=None, alias="resourceType")
    resource_id: Text | None = Field(default=None, alias="resourceId")
    outcome: Literal["success", "failure", "denied"] | None = None
    start_date: UTCDateTime | None = Field(default=None, alias="startDate")
    end_date: UTCDateTime | None = Field(default=None, alias="endDate")

    @model_validator(mode="before")
    @classmethod
    def _known_parameters(cls, data: Any) -> Any:
        # A misspelt filter silently ignored would return the unfiltered log (issue #11).
        if isinstance(data, dict):
            known = cls.known_parameters()
            unknown = sorted(key for key in data if key not in known)
            if unknown:
                raise ValueError(
                    f"Unknown query parameter {', '.join(repr(k) for k in unknown)}; "
                    f"known: {', '.join(sorted(known))}"
                )
        return data

    @classmethod
    def known_parameters(cls) -> frozenset[str]:
        # ``apiKey`` is the query token (SPEC 9.2), read by the middleware, not a filter.
        return frozenset({"apiKey", *(f.alias or name for name, f in cls.model_fields.items())})

    @model_validator(mode="after")
    def _wildcards(self) -> AuditQuery:
        # SPEC 8.6: patterns ≤ 200 characters and ≤ 8 ``*`` (no pathological matching).
        for pattern in self.action or []:
            if pattern.count("*") > 8:
                raise ValueError("action patterns may contain at most 8 '*'")
        return self

    def to_filter(self) -> AuditFilter:
        action: str | list[str] | None = None
        if self.action:
            action = self.action[0] if len(self.action) == 1 else list(self.action)
        return AuditFilter(
            actor_id=self.actor_id,
            actor_type=self.actor_type,
            action=action,
            action_prefix=self.action_prefix,
            resource_type=self.resource_type,
            resource_id=self.resource_id,
            outcome=self.outcome,
            start_date=self.start_date,
            end_date=self.end_date,
        )


class ListQuery(AuditQuery):
    """``page``/``perPage`` (SPEC 9.6) or ``offset``/``limit`` (Mastra's own audit UI)."""

    page: int | None = Field(default=None, ge=0, le=1_000_000)
    per_page: int | None = Field(default=None, ge=1, le=500, alias="perPage")
    offset: int | None = Field(default=None, ge=0, le=500_000_000)
    limit: int | None = Field(default=None, ge=1, le=500)

    @model_validator(mode="after")
    def _one_paging_style(self) -> ListQuery:
        if (self.page is not None or self.per_page is not None) and (
            self.offset is not None or self.limit is not None
        ):
            raise ValueError("use page/perPage or offset/limit, not both")
        return self

    @property
    def window(self) -> tuple[int, int]:
        """``(offset, limit)`` of the requested events, whichever style asked."""
        if self.offset is not None or self.limit is not None:
            return self.offset or 0, self.limit or 50
        per_page = self.per_page or 50
        return (self.page or 0) * per_page, per_page


class ExportQuery(AuditQuery):
    format: str = "json"


class StatsQuery(AuditQuery):
    bucket: Literal["hour"] = "hour"


def _storage(request: Request) -> IAuditStorage | Response:
    """The audit storage, or the refusal when the log is unlicensed or not configured."""
    ctx = context(request)
    if not is_feature_licensed(ctx.auth, "audit"):
        return error_response("Forbidden", 403, message="The audit log API requires a valid EE license")
    if ctx.auth.audit_storage is None:
        return error_response("Audit storage not configured", 503)
    return ctx.auth.audit_storage


async def list_events(request: Request) -> Response:
    if isinstance(storage := _storage(request), Response):
        return storage
    query: ListQuery = request.state.mastra_query
    offset, limit = query.window
    page = await _window(storage, query.to_filter(), offset, limit)
    return json_response(page.to_api_json(offset=offset, limit=limit))


async def _window(storage: IAuditStorage, audit_filter: AuditFilter, offset: int, limit: int) -> AuditPage:
    """Events ``offset .. offset+limit`` from a page-based storage: one page when the
    offset is a multiple of the limit (page/perPage always is), else two, sliced."""
    first, skip = divmod(offset, limit)
    page = await storage.list(audit_filter, Pagination(page=first, per_page=limit))
    if skip == 0:
        return page
    following = await storage.list(audit_filter, Pagination(page=first + 1, per_page=limit))
    events = [*page.events, *following.events][skip : skip + limit]
    total = following.pagination.total
    info = PageInfo(total=total, page=first, per_page=limit, has_more=offset + len(events) < total)
    return AuditPage(events=events, pagination=info)


async def export_events(request: Request) -> Response:
    from ...ee.audit import EXPORT_FORMATS, export_stream

    if isinstance(storage := _storage(request), Response):
        return storage
    query: ExportQuery = request.state.mastra_query
    if query.format not in EXPORT_FORMATS:
        return error_response("Invalid format", 400)
    media_type, ext = EXPORT_FORMATS[query.format]
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        export_stream(storage, query.to_filter(), query.format),
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="audit-export-{stamp}.{ext}"'},
    )


async def event_stats(request: Request) -> Response:
    if isinstance(storage := _storage(request), Response):
        return storage
    query: StatsQuery = request.state.mastra_query
    audit_filter = query.to_filter()
    end: datetime = audit_filter.end_date or utcnow()
    start: datetime = audit_filter.start_date or end - timedelta(hours=24)
    if end - start > MAX_STATS_RANGE:
        start = end - MAX_STATS_RANGE
    audit_filter = audit_filter.model_copy(update={"start_date": start, "end_date": end})
    buckets = await storage.stats(audit_filter, query.bucket)
    return json_response({"buckets": [_bucket_json(b) for b in buckets]})


def _bucket_json(bucket: dict[str, Any]) -> dict[str, Any]:
    start = bucket.get("start")
    if isinstance(start, datetime):
        from ...ee.models import format_timestamp

        start = format_timestamp(start)
    return {**bucket, "start": start}


async def get_event(request: Request) -> Response:
    if isinstance(storage := _storage(request), Response):
        return storage
    event_id = request.path_params["eventId"]
    event = None
    if len(event_id) <= 100 and "\x00" not in event_id:
        event = await storage.get(event_id)
    if event is None:
        return error_response("Audit event not found", 404)
    return json_response(event.to_api_json())


def audit_routes() -> list[ApiRoute]:
    common = {401: "Unauthenticated", 403: "Forbidden", 503: "Audit storage not configured"}
    return [
        ApiRoute(
            "GET",
            "/audit",
            list_events,
            query=ListQuery,
            tag="audit",
            summary="List audit events",
            responses={200: "AuditPage", 400: "Invalid request", **common},
        ),
        ApiRoute(
            "GET",
            "/audit/export",
            export_events,
            query=ExportQuery,
            tag="audit",
            summary="Export audit events (json, jsonl, csv), streamed",
            responses={200: "Export stream", 400: "Invalid format", **common},
        ),
        ApiRoute(
            "GET",
            "/audit/stats",
            event_stats,
            query=StatsQuery,
            tag="audit",
            summary="Events per hour by outcome",
            responses={200: "Buckets", 400: "Invalid request", **common},
        ),
        *remote_export_routes(),
        ApiRoute(
            "GET",
            "/audit/{eventId}",
            get_event,
            tag="audit",
            summary="One audit event",
            responses={200: "AuditEvent", 404: "Not found", **common},
        ),
    ]
