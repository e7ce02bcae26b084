"""Audit Log exports of the WorkOS emulator: ``POST /audit_logs/exports``,
``GET /audit_logs/exports/{id}`` and the CSV behind the export's ``url``.

Shapes follow WorkOS's API reference: the export object is ``{object:
"audit_log_export", id, state, url, created_at, updated_at}``; ``url`` is only set once
``ready``. An export answers ``pending`` to creation and to the next
``pending_polls`` reads, then ``ready`` (or ``error`` when ``fail`` is set). The CSV
holds the events pushed through ``POST /audit_logs/events`` for that organization whose
``occurred_at`` lies in the range, filtered by ``actions``, ``actor_names`` (and the
deprecated ``actors``), ``actor_ids`` and ``targets`` (target types). WorkOS does not
publish the CSV's columns; the emulator's are :data:`CSV_COLUMNS`. The URL is
presigned (a secret query token, no API key), as WorkOS's storage URLs are.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["CSV_COLUMNS", "ExportStore"]

CSV_COLUMNS = (
    "ID",
    "Action",
    "Occurred At",
    "Actor ID",
    "Actor Name",
    "Actor Type",
    "Targets",
    "Location",
    "User Agent",
    "Metadata",
)
_LIST_FILTERS = ("actions", "actors", "actor_names", "actor_ids", "targets")


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _invalid(errors: list[dict[str, str]]) -> JSONResponse:
    # WorkOS's validation error body (422).
    body = {"code": "invalid_request_parameters", "message": "Validation failed", "errors": errors}
    return JSONResponse(body, status_code=422)


def _matches(entry: dict[str, Any], query: dict[str, Any]) -> bool:
    event = entry["event"]
    occurred = _parse(event.get("occurred_at"))
    if entry.get("organization_id") != query["organization_id"] or occurred is None:
        return False
    if not query["start"] <= occurred <= query["end"]:
        return False
    actor = event.get("actor") or {}
    names = (query.get("actor_names") or []) + (query.get("actors") or [])
    checks = (
        (query.get("actions"), [event.get("action")]),
        (names, [actor.get("name")]),
        (query.get("actor_ids"), [actor.get("id")]),
        (query.get("targets"), [t.get("type") for t in event.get("targets") or []]),
    )
    return all(not wanted or any(v in wanted for v in values) for wanted, values in checks)


def _row(entry: dict[str, Any]) -> list[str]:
    event = entry["event"]
    actor = event.get("actor") or {}
    context = event.get("context") or {}
    targets = ";".join(f"{t.get('type')}:{t.get('id')}" for t in event.get("targets") or [])
    return [
        entry["idempotency_key"] or "",
        event.get("action", ""),
        event.get("occurred_at", ""),
        actor.get("id", ""),
        actor.get("name", ""),
        actor.get("type", ""),
        targets,
        context.get("location", ""),
        context.get("user_agent", ""),
        json.dumps(event.get("metadata") or {}, sort_keys=True),
    ]


@dataclass
class ExportStore:
    """The exports one emulator created; ``events`` is the emulator's pushed-event list."""

    events: list[dict[str, Any]]
    pending_polls: int = 1
    fail: bool = False
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)  # request bodies, as sent

    def _json(self, export: dict[str, Any], request: Request) -> dict[str, Any]:
        url = None
        if export["state"] == "ready":
            base = str(request.base_url).rstrip("/")
            url = f"{base}/_exports/{export['id']}.csv?sig={export['sig']}"
        return {
            "object": "audit_log_export",
            "id": export["id"],
            "state": export["state"],
            "url": url,
            "created_at": export["created_at"],
            "updated_at": export["updated_at"],
        }

    async def create(self, request: Request, now: str) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _invalid([{"field": "body", "code": "invalid_json"}])
        if not isinstance(body, dict):
            return _invalid([{"field": "body", "code": "invalid_json"}])
        self.created.append(body)
        errors: list[dict[str, str]] = []
        if not isinstance(body.get("organization_id"), str) or not body["organization_id"]:
            errors.append({"field": "organization_id", "code": "organization_id_required"})
        start, end = _parse(body.get("range_start")), _parse(body.get("range_end"))
        for name, value in (("range_start", start), ("range_end", end)):
            if value is None:
                errors.append({"field": name, "code": f"{name}_must_be_valid_iso_8601"})
        if start is not None and end is not None and start >= end:
            errors.append({"field": "range_start", "code": "range_start_must_be_before_range_end"})
        for name in _LIST_FILTERS:
            value = body.get(name)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                errors.append({"field": name, "code": f"{name}_must_be_an_array_of_strings"})
        if errors:
            return _invalid(errors)
        export_id = f"audit_log_export_01{secrets.token_hex(12).upper()}"
        query = {k: body.get(k) for k in _LIST_FILTERS}
        query.update(organization_id=body["organization_id"], start=start, end=end)
        self.exports[export_id] = {
            "id": export_id,
            "state": "pending",
            "polls": self.pending_polls,
            "query": query,
            "sig": secrets.token_urlsafe(16),
            "created_at": now,
            "updated_at": now,
        }
        return JSONResponse(self._json(self.exports[export_id], request), status_code=201)

    async def get(self, request: Request, now: str) -> Response:
        export = self.exports.get(request.path_params["export_id"])
        if export is None:
            return JSONResponse(
                {"code": "entity_not_found", "message": "Audit Log Export not found"}, status_code=404
            )
        if export["state"] == "pending":
            if export["polls"] > 0:
                export["polls"] -= 1
            else:
                export["state"] = "error" if self.fail else "ready"
                export["updated_at"] = now
                export["csv"] = self._csv(export["query"])
        return JSONResponse(self._json(export, request))

    def _csv(self, query: dict[str, Any]) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for entry in self.events:
            if _matches(entry, query):
                writer.writerow(_row(entry))
        return out.getvalue()

    async def download(self, request: Request) -> Response:
        export = self.exports.get(request.path_params["export_id"])
        if export is None or "csv" not in export or request.query_params.get("sig") != export["sig"]:
            return Response("AccessDenied", status_code=403, media_type="text/plain")
        return Response(export["csv"], media_type="text/csv")
