"""Export encoders shared by ``GET /audit/export`` and ``mastra-ee audit export``
(SPEC 9.6, S11, S30). Output is produced as events stream out of storage: memory use does
not grow with the size of the log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from ..models import AuditEvent, AuditFilter, utcnow

__all__ = ["CSV_HEADER", "EXPORT_FORMATS", "csv_row", "export_filename", "export_stream"]

# format -> (media type, file extension)
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "json": ("application/json", "json"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson", "jsonl"),
}
CSV_COLUMNS = (
    "id",
    "timestamp",
    "actorType",
    "actorId",
    "actorEmail",
    "action",
    "resourceType",
    "resourceId",
    "outcome",
    "duration",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_EVENTS = 100  # events per yielded chunk: fewer, larger writes to the socket


def _is_formula(text: str) -> bool:
    """True when a spreadsheet could evaluate ``text`` (S11, S30).

    Spreadsheets skip leading whitespace before a formula, so the first
    *non-whitespace* character decides; TAB or CR anywhere in that leading run is
    neutralised too, since SPEC 9.6 names them as dangerous starts of a cell.
    """
    body = text.lstrip()
    lead = text[: len(text) - len(body)]
    return body.startswith(_FORMULA_STARTS) or "\t" in lead or "\r" in lead


def _csv_field(value: Any) -> str:
    text = "" if value is None else str(value)
    if _is_formula(text):
        text = "'" + text  # neutralise spreadsheet formulas
    return '"' + text.replace('"', '""') + '"'


CSV_HEADER = ",".join(CSV_COLUMNS) + "\r\n"  # SPEC 9.6 spells the header unquoted


def csv_row(event: AuditEvent) -> str:
    """One CSV line (``\\r\\n``-terminated): every field quoted, formulas neutralised."""
    data = event.to_json()
    actor = data["actor"]
    resource = data.get("resource") or {}
    values = (
        data["id"],
        data["timestamp"],
        actor.get("type"),
        actor.get("id"),
        actor.get("email"),
        data["action"],
        resource.get("type"),
        resource.get("id"),
        data["outcome"],
        data.get("duration"),
    )
    return ",".join(_csv_field(v) for v in values) + "\r\n"


def _compact(event: AuditEvent) -> str:
    return json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":"))


def export_filename(fmt: str, now: datetime | None = None) -> str:
    """``audit-export-<YYYYMMDDTHHMMSSZ>.<ext>`` for ``Content-Disposition``."""
    _media_type, ext = EXPORT_FORMATS[fmt]
    return f"audit-export-{(now or utcnow()).strftime('%Y%m%dT%H%M%SZ')}.{ext}"


async def export_stream(storage: Any, filter: AuditFilter, fmt: str) -> AsyncIterator[bytes]:
    """UTF-8 chunks of the export of ``storage`` (newest first) in ``fmt``.

    ``json`` is a single array, ``jsonl`` one full event per line, ``csv`` the SPEC 9.6
    columns. Raises ``ValueError("Invalid format")`` before reading anything for an
    unknown format, and ``ValueError`` for an invalid action pattern.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError("Invalid format")
    events = storage.iter_events(filter, ascending=False)
    try:
        if fmt == "csv":
            yield CSV_HEADER.encode()
            async for chunk in _chunks(events):
                yield "".join(csv_row(e) for e in chunk).encode()
        elif fmt == "jsonl":
            async for chunk in _chunks(events):
                yield "".join(_compact(e) + "\n" for e in chunk).encode()
        else:
            first = True
            yield b"["
            async for chunk in _chunks(events):
                body = ",".join(_compact(e) for e in chunk)
                yield (body if first else "," + body).encode()
                first = False
            yield b"]\n"
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _chunks(events: AsyncIterator[AuditEvent]) -> AsyncIterator[list[AuditEvent]]:
    chunk: list[AuditEvent] = []
    async for event in events:
        chunk.append(event)
        if len(chunk) >= _CHUNK_EVENTS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
