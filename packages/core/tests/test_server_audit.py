"""/audit routes (SPEC 9.6): list, get, stats, streamed exports, gates."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mastra.core.testing.reference import reference_app, reference_settings

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url, auth={"audit_storage": "sql"}))


@pytest.fixture
async def owner(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        for email in ("=cmd|calc@example.com", "+x@example.com", "-x@example.com"):
            await c.post(
                "/api/auth/credentials/sign-in", json={"email": email, "password": "nope"}, headers=ORIGIN
            )
        yield c


async def test_list_filters_and_pagination(owner: httpx.AsyncClient) -> None:
    r = await owner.get("/api/audit")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["pagination"] == {"total": 4, "page": 0, "perPage": 50, "hasMore": False}
    assert [e["seq"] for e in body["events"]] == [4, 3, 2, 1]
    page = (await owner.get("/api/audit", params={"perPage": 2, "page": 1})).json()
    assert [e["seq"] for e in page["events"]] == [2, 1] and page["pagination"]["hasMore"] is False
    failures = (await owner.get("/api/audit", params={"outcome": "failure", "action": "auth.sign-*"})).json()
    assert failures["pagination"]["total"] == 3
    both = (
        await owner.get("/api/audit", params=[("action", "auth.sign-up"), ("action", "auth.sign-in")])
    ).json()
    assert both["pagination"]["total"] == 4
    prefix = (await owner.get("/api/audit", params={"actionPrefix": "auth.sign-u"})).json()
    assert prefix["pagination"]["total"] == 1
    for bad in (
        {"perPage": 501},
        {"page": -1},
        {"outcome": "maybe"},
        {"startDate": "yesterday"},
        {"actorType": "robot"},
        {"action": "*" * 9},
    ):
        r = await owner.get("/api/audit", params=bad)
        assert r.status_code == 400 and r.json()["error"] == "Invalid request", bad


async def test_get_event(owner: httpx.AsyncClient) -> None:
    first = (await owner.get("/api/audit")).json()["events"][0]
    r = await owner.get(f"/api/audit/{first['id']}")
    assert r.json() == first and len(first["hash"]) == 64
    r = await owner.get("/api/audit/does-not-exist")
    assert (r.status_code, r.json()) == (
        404,
        {"error": "Audit event not found", "message": "Audit event not found"},
    )


async def test_stats(owner: httpx.AsyncClient) -> None:
    r = await owner.get("/api/audit/stats")
    buckets = r.json()["buckets"]
    assert sum(b["success"] for b in buckets) == 1 and sum(b["failure"] for b in buckets) == 3
    assert all(b["start"].endswith(":00:00.000Z") for b in buckets)
    assert (await owner.get("/api/audit/stats", params={"bucket": "day"})).status_code == 400


async def test_export_formats(owner: httpx.AsyncClient) -> None:
    r = await owner.get("/api/audit/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="audit-export-')
    assert r.headers["content-disposition"].endswith('.csv"')
    assert r.text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == [
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
    ]
    emails = {row[4] for row in rows[1:]}
    # S11: formula-looking fields are neutralised with a leading quote.
    assert {"'=cmd|calc@example.com", "'+x@example.com", "'-x@example.com", "owner@example.com"} == emails
    assert all(line.startswith('"') for line in r.text.split("\r\n")[1:] if line)
    r = await owner.get("/api/audit/export", params={"format": "jsonl"})
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [e["seq"] for e in lines] == [4, 3, 2, 1] and all("prevHash" in e for e in lines)
    r = await owner.get("/api/audit/export", params={"outcome": "success"})
    assert r.headers["content-type"].startswith("application/json") and len(r.json()) == 1
    r = await owner.get("/api/audit/export", params={"format": "xml"})
    assert (r.status_code, r.json()) == (400, {"error": "Invalid format", "message": "Invalid format"})


async def test_viewer_denied_and_audited(app: Any, owner: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as viewer:
        await viewer.post(
            "/api/auth/credentials/sign-up",
            json={"email": "v@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        r = await viewer.get("/api/audit/export")
        assert (r.status_code, r.json()) == (
            403,
            {"error": "Forbidden", "message": "Missing required permission: audit:read"},
        )
    denied = (await owner.get("/api/audit", params={"action": "authz.denied"})).json()["events"]
    assert denied[0]["metadata"]["permission"] == "audit:read"


async def test_no_storage_is_503(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url, auth={"audit_storage": None}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "o@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        for path in ("/api/audit", "/api/audit/export", "/api/audit/stats", "/api/audit/x"):
            r = await c.get(path)
            assert (r.status_code, r.json()) == (
                503,
                {"error": "Audit storage not configured", "message": "Audit storage not configured"},
            ), path
