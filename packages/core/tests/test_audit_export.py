"""Export encoders (SPEC 9.6, S11): JSON array, JSONL, CSV with formula neutralising."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from mastra.core.ee.audit import (
    CSV_HEADER,
    EXPORT_FORMATS,
    MemoryAuditStorage,
    SQLAuditStorage,
    export_filename,
    export_stream,
)
from mastra.core.ee.models import AuditFilter
from mastra.core.testing.audit import make_event


async def _collect(storage: Any, fmt: str, audit_filter: AuditFilter | None = None) -> tuple[bytes, int]:
    chunks = [c async for c in export_stream(storage, audit_filter or AuditFilter(), fmt)]
    return b"".join(chunks), len(chunks)


def test_formats_table() -> None:
    assert EXPORT_FORMATS == {
        "json": ("application/json", "json"),
        "csv": ("text/csv; charset=utf-8", "csv"),
        "jsonl": ("application/x-ndjson", "jsonl"),
    }
    assert (
        export_filename("csv", datetime(2026, 3, 1, 9, 5, 7, tzinfo=UTC))
        == "audit-export-20260301T090507Z.csv"
    )


async def test_unknown_format_is_rejected_before_reading() -> None:
    with pytest.raises(ValueError, match=r"^Invalid format$"):
        await anext(export_stream(MemoryAuditStorage(), AuditFilter(), "xml"))


@pytest.fixture
def storage() -> MemoryAuditStorage:
    return MemoryAuditStorage()


async def test_json_is_one_array_newest_first(storage: MemoryAuditStorage) -> None:
    events = await storage.append_many([make_event(f"test.e{i}", metadata={"i": i}) for i in range(250)])
    body, chunks = await _collect(storage, "json")
    data = json.loads(body)
    assert [e["seq"] for e in data] == list(range(250, 0, -1))
    assert data[0] == events[-1].to_json()
    assert chunks > 3  # streamed in pieces, not one buffer
    empty, _ = await _collect(MemoryAuditStorage(), "json")
    assert json.loads(empty) == []


async def test_jsonl_has_full_events_one_per_line(storage: MemoryAuditStorage) -> None:
    events = await storage.append_many([make_event("test.a"), make_event("test.b")])
    body, _ = await _collect(storage, "jsonl")
    lines = body.decode().splitlines()
    assert [json.loads(line) for line in lines] == [events[1].to_json(), events[0].to_json()]
    assert all({"seq", "prevHash", "hash"} <= json.loads(line).keys() for line in lines)
    assert body.endswith(b"\n")


async def test_jsonl_respects_filters(storage: MemoryAuditStorage) -> None:
    await storage.append_many(
        [make_event("auth.sign-in"), make_event("acl.grant"), make_event("auth.logout")]
    )
    body, _ = await _collect(storage, "jsonl", AuditFilter(action="auth.*"))
    assert [json.loads(x)["action"] for x in body.decode().splitlines()] == ["auth.logout", "auth.sign-in"]


async def test_csv_header_quoting_and_line_endings(storage: MemoryAuditStorage) -> None:
    event = await storage.append(
        make_event(
            "auth.sign-in",
            email='ann "the admin"@example.com',
            resource=("user", "line1\nline2,x"),
            duration=17,
        )
    )
    bare = await storage.append(make_event("auth.logout"))
    body, _ = await _collect(storage, "csv")
    text = body.decode("utf-8")
    assert text.startswith(
        "id,timestamp,actorType,actorId,actorEmail,action,resourceType,resourceId,outcome,duration\r\n"
    )
    assert CSV_HEADER.endswith("\r\n")
    lines = text.split("\r\n")
    ts = event.to_json()["timestamp"]
    assert (
        lines[1]
        == f'"{bare.id}","{bare.to_json()["timestamp"]}","user","user_1","","auth.logout","","","success",""'
    )
    assert lines[2] == (
        f'"{event.id}","{ts}","user","user_1","ann ""the admin""@example.com","auth.sign-in",'
        '"user","line1\nline2,x","success","17"'
    )
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[2][4] == 'ann "the admin"@example.com' and rows[2][7] == "line1\nline2,x"


@pytest.mark.parametrize("dangerous", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"])
async def test_csv_neutralises_formulas(storage: MemoryAuditStorage, dangerous: str) -> None:
    await storage.append(make_event(dangerous, actor_id=dangerous, resource=("user", dangerous)))
    body, _ = await _collect(storage, "csv")
    row = next(csv.reader(io.StringIO(body.decode().split("\r\n", 1)[1], newline="")))
    assert row[3] == "'" + dangerous and row[5] == "'" + dangerous and row[7] == "'" + dangerous
    assert row[2] == "user"  # ordinary fields are untouched


async def test_export_streams_from_sql_without_loading_everything(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    await storage.append_many([make_event(f"test.e{i % 3}") for i in range(1200)])
    body, chunks = await _collect(storage, "csv", AuditFilter(action="test.e1"))
    lines = body.decode().split("\r\n")
    assert len(lines) == 1 + 400 + 1  # header, rows, trailing empty after the last \r\n
    assert chunks >= 5
    body, _ = await _collect(storage, "json")
    assert len(json.loads(body)) == 1200


@pytest.mark.parametrize("dangerous", ["  =1+1", "\n@SUM(A1)", " -2", "\u00a0+cmd", " \t=x", "\r\n-1"])
async def test_csv_neutralises_formulas_after_leading_whitespace(
    storage: MemoryAuditStorage, dangerous: str
) -> None:
    # Spreadsheets skip leading whitespace before a formula, so "  =1+1" is as live as "=1+1" (S30).
    await storage.append(make_event(dangerous, actor_id=dangerous, resource=("user", dangerous)))
    body, _ = await _collect(storage, "csv")
    row = next(csv.reader(io.StringIO(body.decode().split("\r\n", 1)[1], newline="")))
    assert row[3] == "'" + dangerous and row[5] == "'" + dangerous and row[7] == "'" + dangerous


@pytest.mark.parametrize("harmless", ["  plain", "a-b", "x=1", "\u00a0", "   ", "", "user@example.com"])
def test_csv_leaves_cells_without_a_leading_formula_alone(harmless: str) -> None:
    from mastra.core.ee.audit._export import _csv_field

    assert _csv_field(harmless) == '"' + harmless + '"'
