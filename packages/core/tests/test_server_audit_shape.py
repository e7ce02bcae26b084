"""GET /audit as Mastra's own audit UI calls it (issue #11): ``offset``/``limit`` beside
``page``/``perPage``, ``actorType=api-key``, ``createdAt`` and top-level
``total``/``offset``/``limit``; unknown query parameters are a 400 naming the known ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mastra.core.ee.models import AuditActor, AuditEventInput
from mastra.core.testing.reference import reference_app, reference_settings

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url, auth={"audit_storage": "sql"}))


@pytest.fixture
async def owner(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        r = await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        assert r.status_code == 201
        storage = app.state.mastra_ee.auth.audit_storage
        for n in range(4):
            await storage.append(
                AuditEventInput(
                    actor=AuditActor(type="apikey", id=f"key-{n}"), action="agents.run", outcome="success"
                )
            )
        yield c  # seq 1 = sign-up, 2..5 = api-key events


async def test_offset_and_limit_really_window_the_events(owner: httpx.AsyncClient) -> None:
    body = (await owner.get("/api/audit", params={"limit": 2})).json()
    assert [e["seq"] for e in body["events"]] == [5, 4]
    assert (body["total"], body["offset"], body["limit"]) == (5, 0, 2)
    assert body["pagination"] == {"total": 5, "page": 0, "perPage": 2, "hasMore": True}
    aligned = (await owner.get("/api/audit", params={"offset": 2, "limit": 2})).json()
    assert [e["seq"] for e in aligned["events"]] == [3, 2]
    misaligned = (await owner.get("/api/audit", params={"offset": 1, "limit": 3})).json()
    assert [e["seq"] for e in misaligned["events"]] == [4, 3, 2]
    assert (misaligned["offset"], misaligned["limit"], misaligned["pagination"]["hasMore"]) == (1, 3, True)
    tail = (await owner.get("/api/audit", params={"offset": 3, "limit": 2})).json()
    assert [e["seq"] for e in tail["events"]] == [2, 1] and tail["pagination"]["hasMore"] is False
    paged = (await owner.get("/api/audit", params={"page": 1, "perPage": 2})).json()
    assert [e["seq"] for e in paged["events"]] == [3, 2]
    assert (paged["total"], paged["offset"], paged["limit"]) == (5, 2, 2)


async def test_events_carry_created_at_beside_timestamp(owner: httpx.AsyncClient) -> None:
    listed = (await owner.get("/api/audit")).json()["events"]
    assert all(e["createdAt"] == e["timestamp"] for e in listed)
    one = (await owner.get(f"/api/audit/{listed[0]['id']}")).json()
    assert one == listed[0]


async def test_actor_type_api_key_means_apikey(owner: httpx.AsyncClient) -> None:
    for spelling in ("api-key", "apikey"):
        body = (await owner.get("/api/audit", params={"actorType": spelling})).json()
        assert body["total"] == 4 and {e["actor"]["type"] for e in body["events"]} == {"apikey"}, spelling


@pytest.mark.parametrize("path", ["/api/audit", "/api/audit/export", "/api/audit/stats"])
async def test_unknown_query_parameters_are_refused_naming_the_known_ones(
    owner: httpx.AsyncClient, path: str
) -> None:
    r = await owner.get(path, params={"actor": "x"})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "Invalid request" and body["message"]
    text = " ".join(issue["message"] for issue in body["issues"])
    assert "'actor'" in text and "actorId" in text and "actorType" in text


async def test_paging_styles_do_not_mix(owner: httpx.AsyncClient) -> None:
    for bad in (
        {"page": 1, "limit": 2},
        {"offset": 0, "perPage": 2},
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
    ):
        assert (await owner.get("/api/audit", params=bad)).status_code == 400, bad


async def test_openapi_documents_both_paging_styles(owner: httpx.AsyncClient) -> None:
    doc = (await owner.get("/api/openapi.json")).json()
    names = {p["name"] for p in doc["paths"]["/api/audit"]["get"]["parameters"]}
    assert {"page", "perPage", "offset", "limit", "actorType"} <= names
