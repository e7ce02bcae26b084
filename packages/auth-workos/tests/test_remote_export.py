"""Exports from WorkOS Audit Logs: the SDK against the emulator end to end, then the
``/audit/exports/remote`` routes on the real server app."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from mastra.core.ee.errors import AuthError, ProviderUnavailable
from mastra.core.ee.interfaces import SupportsRemoteAuditExport
from mastra.core.ee.models import AuditActor, AuditEvent, AuditEventInput, AuditResource, utcnow
from mastra.core.ee.settings import Settings
from workos._errors import UnprocessableEntityError
from workos_emulator import browser_login

ORG = "org_01EMULATED"


def event(action: str, actor_id: str = "user_01", org: str = ORG, **extra: Any) -> AuditEventInput:
    return AuditEventInput(
        actor=AuditActor(type="user", id=actor_id, email=f"{actor_id}@example.com", organization_id=org),
        action=action,
        outcome="success",
        resource=AuditResource(type=extra.pop("target", "user"), id=actor_id),
        **extra,
    )


def old(action: str, days: int) -> AuditEvent:
    """A stored event dated ``days`` ago (its timestamp is what WorkOS receives)."""
    return AuditEvent(
        **event(action).model_dump(),
        id=f"old-{days}",
        seq=1,
        timestamp=utcnow() - timedelta(days=days),
        prev_hash="",
        hash="",
    )


async def push(provider: Any) -> None:
    for item in (
        event("auth.login"),
        event("auth.logout", "user_02", target="session"),
        event("auth.login", org="org_01OTHER"),
        old("auth.login", days=10),
    ):
        await provider.log(item)
    await provider.flush_audit()


async def rows(url: str) -> list[dict[str, str]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)  # presigned: no API key
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_sdk_round_trip_pending_then_ready_with_the_pushed_events(provider, emulator) -> None:
    assert isinstance(provider, SupportsRemoteAuditExport)
    await push(provider)
    assert len(emulator.audit_events) == 4
    now = utcnow()
    created = await provider.create_remote_export(now - timedelta(hours=1), now + timedelta(hours=1))
    assert created["state"] == "pending" and created["url"] is None
    assert created["id"].startswith("audit_log_export_") and created["createdAt"].endswith("Z")
    sent = emulator.exports.created[-1]
    assert sent["organization_id"] == ORG and set(sent) == {"organization_id", "range_start", "range_end"}

    polled = await provider.get_remote_export(created["id"])
    assert polled is not None and polled["state"] == "pending"  # one poll still pending
    ready = await provider.get_remote_export(created["id"])
    assert ready is not None and ready["state"] == "ready" and ready["url"]
    got = await rows(ready["url"])
    assert sorted((r["Action"], r["Actor ID"]) for r in got) == [
        ("mastra.auth.login", "user_01"),
        ("mastra.auth.logout", "user_02"),
    ]  # not the other organization's event, not the 10-day-old one
    pushed_keys = {e["idempotency_key"] for e in emulator.audit_events}
    assert {r["ID"] for r in got} <= pushed_keys

    wider = await provider.create_remote_export(now - timedelta(days=11), now)
    for _ in range(2):
        last = await provider.get_remote_export(wider["id"])
    assert last is not None and len(await rows(last["url"])) == 3  # the old event is in range now


async def test_filters_use_mastra_action_names_actor_ids_and_target_types(provider, emulator) -> None:
    await push(provider)
    now = utcnow()
    span = (now - timedelta(hours=1), now + timedelta(hours=1))
    for kwargs, expected in (
        ({"actions": ["auth.logout"]}, ["user_02"]),
        ({"actions": ["mastra.auth.login"]}, ["user_01"]),
        ({"actors": ["user_01"]}, ["user_01"]),
        ({"targets": ["session"]}, ["user_02"]),
    ):
        created = await provider.create_remote_export(*span, **kwargs)
        await provider.get_remote_export(created["id"])
        ready = await provider.get_remote_export(created["id"])
        assert ready is not None
        assert [r["Actor ID"] for r in await rows(ready["url"])] == expected, kwargs
    assert emulator.exports.created[0]["actions"] == ["mastra.auth.logout"]
    assert emulator.exports.created[2]["actor_ids"] == ["user_01"]


async def test_emulator_validates_like_workos(provider) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        await provider.client.audit_logs.create_export(
            organization_id="", range_start="yesterday", range_end="2026-01-01T00:00:00Z"
        )
    codes = {e["code"] for e in raised.value.errors}
    assert codes == {"organization_id_required", "range_start_must_be_valid_iso_8601"}
    assert raised.value.code == "invalid_request_parameters"


async def test_errors_map_to_the_core_tree(provider, emulator, workos_options) -> None:
    now = utcnow()
    with pytest.raises(AuthError) as refused:  # WorkOS's 422 → 400 with its reason
        await provider.create_remote_export(now, now - timedelta(hours=1))
    assert refused.value.status == 400 and "range_start_must_be_before_range_end" in refused.value.message
    assert await provider.get_remote_export("audit_log_export_01UNKNOWN") is None
    before = len(emulator.requests)
    assert await provider.get_remote_export("../user_management/users") is None
    assert len(emulator.requests) == before  # never sent

    emulator.down = True
    with pytest.raises(ProviderUnavailable) as down:
        await provider.create_remote_export(now - timedelta(hours=1), now)
    assert down.value.status == 503
    attempts = [r for r in emulator.requests[before:] if r == ("POST", "/audit_logs/exports")]
    assert len(attempts) == provider.export_attempts == 3  # retried with the core policy
    emulator.down = False

    emulator.exports.fail = True
    created = await provider.create_remote_export(now - timedelta(hours=1), now)
    await provider.get_remote_export(created["id"])
    failed = await provider.get_remote_export(created["id"])
    assert failed is not None and failed["state"] == "error" and failed["url"] is None


async def test_without_organization_the_export_is_refused(provider) -> None:
    provider.options = provider.options.model_copy(update={"organization_id": None})
    now = utcnow()
    with pytest.raises(AuthError) as refused:
        await provider.create_remote_export(now - timedelta(hours=1), now)
    assert refused.value.status == 400 and refused.value.code == "no_organization"
    created = await provider.create_remote_export(now - timedelta(hours=1), now, organization_id="org_01X")
    assert created["state"] == "pending"


# -- the routes --------------------------------------------------------------------------

PATH = "/api/audit/exports/remote"


async def sign_in(http: httpx.AsyncClient, emulator: Any, role: str) -> dict[str, Any]:
    user = emulator.add_user(f"{role}@example.com")
    emulator.add_membership(user["id"], ORG, [role])
    assert (await browser_login(http, emulator, user["id"])).status_code == 302
    return user


def span(hours: int = 1) -> dict[str, str]:
    now = utcnow()
    return {
        "rangeStart": (now - timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
        "rangeEnd": (now + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
    }


async def test_route_creates_then_polls_an_export(http: httpx.AsyncClient, emulator: Any) -> None:
    user = await sign_in(http, emulator, "admin")
    await http.get("/api/auth/me")  # one audited request at least (sign-in was audited)
    await http.auth_provider.user.flush_audit()  # type: ignore[attr-defined]
    assert emulator.audit_events, "sign-in events reach WorkOS"

    created = await http.post(PATH, json=span())
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["state"] == "pending" and body["url"] is None
    assert created.headers["cache-control"] == "no-store"
    first = await http.get(f"{PATH}/{body['id']}")
    assert first.status_code == 200 and first.json()["state"] == "pending"
    ready = (await http.get(f"{PATH}/{body['id']}")).json()
    assert ready["state"] == "ready"
    got = await rows(ready["url"])
    assert any(r["Actor ID"] == user["id"] and r["Action"].startswith("mastra.auth.") for r in got)

    filtered = await http.post(PATH, json={**span(), "actions": ["auth.nothing"], "actors": [user["id"]]})
    assert filtered.status_code == 202
    assert emulator.exports.created[-1]["actions"] == ["mastra.auth.nothing"]
    assert emulator.exports.created[-1]["actor_ids"] == [user["id"]]


@pytest.mark.parametrize(
    "payload",
    [
        {"rangeStart": "2026-02-01T00:00:00Z", "rangeEnd": "2026-01-01T00:00:00Z"},  # end before start
        {"rangeStart": "2026-01-01T00:00:00Z", "rangeEnd": "2026-01-01T00:00:00Z"},  # empty
        {"rangeStart": "yesterday", "rangeEnd": "2026-01-01T00:00:00Z"},
        {"rangeStart": 1700000000, "rangeEnd": "2026-01-01T00:00:00Z"},  # Unix time is not ISO
        {"rangeStart": "2026-01-01", "rangeEnd": "2026-01-02"},  # dates, no time
        {"rangeEnd": "2026-01-01T00:00:00Z"},
        {**{"rangeStart": "2026-01-01T00:00:00Z", "rangeEnd": "2026-01-02T00:00:00Z"}, "actions": [""]},
    ],
)
async def test_route_refuses_bad_ranges(http: httpx.AsyncClient, emulator: Any, payload: Any) -> None:
    await sign_in(http, emulator, "admin")
    response = await http.post(PATH, json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Invalid request" and response.json()["message"]
    assert emulator.exports.created == []  # refused before WorkOS is asked


async def test_route_permission_unknown_id_and_outage(http: httpx.AsyncClient, emulator: Any) -> None:
    await sign_in(http, emulator, "member")
    denied = await http.post(PATH, json=span())
    assert denied.status_code == 403
    assert denied.json()["message"] == "Missing required permission: audit:read"
    assert (await http.get(f"{PATH}/audit_log_export_01X")).status_code == 403

    http.cookies.clear()
    await sign_in(http, emulator, "admin")
    missing = await http.get(f"{PATH}/audit_log_export_01UNKNOWN")
    assert missing.status_code == 404 and missing.json()["error"] == "Export not found"
    assert (await http.get(f"{PATH}/not%20an%20id")).status_code == 404

    emulator.down = True
    try:
        down = await http.post(PATH, json=span())
    finally:
        emulator.down = False
    assert down.status_code == 503, down.text
    assert down.json() == {
        "error": "WorkOS Audit Logs is unavailable",
        "message": "WorkOS Audit Logs is unavailable",
    }


async def test_routes_are_in_the_openapi_document(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/api/openapi.json")).json()
    assert "post" in doc["paths"]["/api/audit/exports/remote"]
    get = doc["paths"]["/api/audit/exports/remote/{exportId}"]["get"]
    assert {"200", "404", "501", "503"} <= set(get["responses"])


class TestWithoutARemoteExporter:
    @pytest.fixture
    def app_settings(self, workos_options: dict[str, Any]) -> Settings:
        """WorkOS signs in; the audit logger is the console one (cannot export)."""
        return Settings(
            public_url="http://127.0.0.1:4111",
            auth={
                "user": "workos",
                "session": "workos",
                "sso": "workos",
                "rbac": "workos",
                "audit": "console",
                "audit_storage": "memory",
                "options": {"workos": workos_options},
            },
            _env_file=None,
        )

    async def test_routes_answer_501(self, http: httpx.AsyncClient, emulator: Any) -> None:
        await sign_in(http, emulator, "admin")
        created = await http.post(PATH, json=span())
        assert created.status_code == 501
        assert created.json()["message"] == "The configured audit logger cannot export remotely"
        assert (await http.get(f"{PATH}/audit_log_export_01X")).status_code == 501
        assert emulator.exports.created == []
