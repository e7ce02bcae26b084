"""Hourly outcome buckets shared by both storages (SPEC 3.8 ``stats``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..models import AuditFilter, format_timestamp

__all__ = ["MAX_FILLED_BUCKETS", "build_buckets", "hour_floor", "validate_bucket"]

# Dense output (zero-filled hours) only for ranges up to this many hours (~ 1 year).
MAX_FILLED_BUCKETS = 24 * 366


def validate_bucket(bucket: str) -> None:
    if bucket != "hour":
        raise ValueError(f"Unsupported stats bucket {bucket!r}; the only bucket is 'hour'")


def hour_floor(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(minute=0, second=0, microsecond=0)


def build_buckets(
    counts: Iterable[tuple[datetime, str, int]], audit_filter: AuditFilter
) -> list[dict[str, Any]]:
    """``[{start, success, failure, denied}]`` ascending by hour, ``start`` as the API's
    ISO string. Hours with no events are included (as zeros) when the filter has both
    ``start_date`` and ``end_date`` spanning at most a year, so a chart needs no gap
    filling; otherwise only hours with events are listed."""
    table: dict[datetime, dict[str, int]] = {}
    for hour, outcome, n in counts:
        row = table.setdefault(hour_floor(hour), {"success": 0, "failure": 0, "denied": 0})
        if outcome in row:
            row[outcome] += n
    start, end = audit_filter.start_date, audit_filter.end_date
    if start is not None and end is not None and start <= end:
        first, last = hour_floor(start), hour_floor(end)
        if (last - first) / timedelta(hours=1) < MAX_FILLED_BUCKETS:
            hour = first
            while hour <= last:
                table.setdefault(hour, {"success": 0, "failure": 0, "denied": 0})
                hour += timedelta(hours=1)
    return [{"start": format_timestamp(hour), **table[hour]} for hour in sorted(table)]
