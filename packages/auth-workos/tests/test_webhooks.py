"""Directory-sync webhook: signature verification, processing, replay, auditing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from mastra.auth.workos import sign_webhook, verify_webhook_signature
from workos.webhooks._verification import verify_header
from workos_emulator import directory_group, directory_user, dsync_event

ORG = "org_01EMULATED"
SECRET = "whsec_emulated_secret"
PATH = "/api/auth/workos/webhook"


def test_signature_accepts_good_and_rejects_each_bad_kind() -> None:
    body = b'{"id":"event_1","event":"dsync.user.created"}'
    now = int(time.time() * 1000)
    header = sign_webhook(body, SECRET, timestamp_ms=now)
    assert verify_webhook_signature(header, body, SECRET)
    verify_header(event_body=body, event_signature=header, secret=SECRET)  # the SDK agrees
    assert verify_webhook_signature(header.replace(", ", ","), body, SECRET)  # whitespace tolerant
    cases = {
        None: "missing",
        "": "missing",
        "v1=abc": "malformed",
        "t=abc, v1=00": "malformed",
        sign_webhook(body, SECRET, timestamp_ms=now - 181_000): "stale",
        sign_webhook(body, SECRET, timestamp_ms=now + 181_000): "stale",
        sign_webhook(body, "wrong-secret", timestamp_ms=now): "mismatch",
        sign_webhook(body + b" ", SECRET, timestamp_ms=now): "mismatch",
        header[:-1] + ("0" if header[-1] != "0" else "1"): "mismatch",
        header + "é": "mismatch",
    }
    for bad, reason in cases.items():
        check = verify_webhook_signature(bad, body, SECRET)
        assert not check and check.reason == reason, bad
    assert verify_webhook_signature(sign_webhook(body, SECRET, timestamp_ms=now - 179_000), body, SECRET)


async def post_event(
    http: httpx.AsyncClient, event: dict[str, Any], *, secret: str = SECRET, ts: int | None = None
) -> httpx.Response:
    body = json.dumps(event).encode()
    return await http.post(
        PATH,
        content=body,
        headers={
            "WorkOS-Signature": sign_webhook(body, secret, timestamp_ms=ts),
            "content-type": "application/json",
        },
    )


async def stored_actions(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    from mastra.core.ee.models import AuditFilter, Pagination

    page = await http.auth_provider.audit_storage.list(AuditFilter(), Pagination(per_page=500))
    return [e.to_json() for e in page.events]


async def test_bad_and_stale_signatures_are_refused_and_audited(http: httpx.AsyncClient) -> None:
    event = dsync_event("dsync.user.created", directory_user("x@example.com", ORG))
    bad = await post_event(http, event, secret="not-the-secret")
    assert bad.status_code == 400 and bad.json() == {
        "error": "Invalid signature",
        "message": "Invalid signature",
    }
    stale = await post_event(http, event, ts=int(time.time() * 1000) - 200_000)
    assert stale.status_code == 400 and stale.json() == {
        "error": "Invalid signature",
        "message": "Invalid signature",
    }
    missing = await http.post(PATH, content=b"{}", headers={"origin": "https://evil.example"})
    assert missing.status_code == 400  # CSRF-exempt: rejected by the signature, not the origin
    events = [e for e in await stored_actions(http) if e["action"] == "directory.webhook"]
    reasons = sorted(e["metadata"]["reason"] for e in events)
    assert reasons == ["mismatch_signature", "missing_signature", "stale_signature"]
    assert all(e["outcome"] == "failure" and e["actor"]["type"] == "system" for e in events)
    assert all(SECRET not in json.dumps(e) for e in events)


async def test_group_membership_event_applies_new_roles_and_replays_are_ignored(
    http: httpx.AsyncClient, emulator: Any
) -> None:
    provider = http.auth_provider.rbac
    user = emulator.add_user("grp@example.com")
    membership = emulator.add_membership(user["id"], ORG, ["member"])
    from mastra.core.ee.models import EEUser

    eeuser = EEUser(id=user["id"])
    assert await provider.get_roles(eeuser) == ["member"]
    emulator.set_roles(membership["id"], ["admin"])  # WorkOS maps the group to a role
    assert await provider.get_roles(eeuser) == ["member"]  # cached (60 s)
    event = dsync_event(
        "dsync.group.user_added",
        {
            "directory_id": "directory_01EMULATED",
            "user": directory_user("grp@example.com", ORG),
            "group": directory_group("Admins", ORG),
        },
    )
    ok = await post_event(http, event)
    assert ok.status_code == 200 and ok.json() == {"received": True}
    assert await provider.get_roles(eeuser) == ["admin"]
    loads = provider.memberships_cache.loads
    again = await post_event(http, event)  # redelivery
    assert again.json() == {"received": True}
    assert await provider.get_roles(eeuser) == ["admin"]
    assert provider.memberships_cache.loads == loads  # not processed twice: cache kept
    audited = [e for e in await stored_actions(http) if e["action"] == "directory.group.user_added"]
    assert len(audited) == 1
    assert (
        audited[0]["metadata"]["groupName"] == "Admins"
        and audited[0]["actor"]["id"] == "workos-directory-sync"
    )


@pytest.mark.parametrize("how", ["inactive", "deleted"])
async def test_deactivation_kills_sessions(http: httpx.AsyncClient, emulator: Any, how: str) -> None:
    user = emulator.add_user("gone@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    emulator.login_as = user["id"]
    start = await http.get("/api/auth/sso/login")
    async with httpx.AsyncClient() as idp:
        callback = (await idp.get(start.json()["url"])).headers["location"]
    await http.get(callback)
    assert (await http.get("/api/auth/me")).json()["id"] == user["id"]
    if how == "inactive":
        event = dsync_event("dsync.user.updated", directory_user("GONE@example.com", ORG, state="inactive"))
    else:
        event = dsync_event("dsync.user.deleted", directory_user("gone@example.com", ORG))
    assert (await post_event(http, event)).status_code == 200
    assert all(s["status"] == "revoked" for s in emulator.sessions.values())
    assert (await http.get("/api/agents")).status_code == 401  # refused at once, not at token expiry
    audited = [e for e in await stored_actions(http) if e["action"].startswith("directory.user.")]
    assert audited[0]["metadata"]["sessionsRevoked"] == 1


async def test_processing_failure_still_acknowledges(http: httpx.AsyncClient, emulator: Any, caplog) -> None:
    emulator.down = True  # user lookups fail
    event = dsync_event("dsync.user.created", directory_user("new@example.com", ORG))
    response = await post_event(http, event)
    assert response.status_code == 200 and response.json() == {"received": True}
    unknown = await post_event(http, dsync_event("connection.activated", {"id": "conn_1"}))
    assert unknown.json() == {"received": True}
    garbage_body = b"not json"
    header = sign_webhook(garbage_body, SECRET)
    assert (
        await http.post(PATH, content=garbage_body, headers={"WorkOS-Signature": header})
    ).status_code == 200


HANDLED: list[dict[str, Any]] = []


async def record_event(event: dict[str, Any]) -> None:
    HANDLED.append(event)


async def test_dsync_handler_receives_camel_case(workos_options: dict[str, Any], emulator: Any) -> None:
    from mastra.auth.workos import WorkOSAuthProvider
    from mastra.auth.workos.webhooks import process_event

    HANDLED.clear()
    p = WorkOSAuthProvider.from_options({**workos_options, "dsync_handler": f"{__name__}.record_event"})
    data = directory_user("h@example.com", ORG)
    del data["emails"]
    await process_event(p, dsync_event("dsync.user.created", data), auth=None)
    (event,) = HANDLED
    assert event["data"]["directoryId"] == "directory_01EMULATED"
    assert (
        event["data"]["firstName"] == "Dana"
        and event["data"]["emails"] == []
        and event["data"]["groups"] == []
    )
    assert event["createdAt"]
    await p.aclose()


async def test_route_answers_404_without_a_webhook_secret(
    workos_options: dict[str, Any], app_settings
) -> None:
    from mastra.auth.workos.plugin import plugin
    from mastra.core.ee.plugins import PluginRegistry, build_auth
    from mastra.core.server import create_app

    app_settings.auth.options["workos"].pop("webhook_secret")
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(plugin, "workos")
    auth = build_auth(app_settings, registry)
    app = create_app(app_settings, auth=auth, registry=registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:4111"
    ) as client:
        response = await client.post(
            PATH, content=b"{}", headers={"WorkOS-Signature": sign_webhook(b"{}", SECRET)}
        )
    assert response.status_code == 404
    await auth.user.aclose()


async def test_oversized_chunked_body_is_refused_while_streaming(http: httpx.AsyncClient) -> None:
    """Finding 7: a chunked 200 MiB POST was read whole before the signature check
    (the server grew from 111 to 520 MB). The core's streamed cap stops it at 1 MiB."""
    chunk = 64 * 1024
    pulled = 0

    async def body() -> Any:
        nonlocal pulled
        for _ in range(3200):  # 200 MiB if read to the end
            pulled += chunk
            yield b"{" * chunk

    r = await http.post(PATH, content=body(), headers={"WorkOS-Signature": "t=1, v1=00"})
    assert r.status_code == 413
    assert r.json()["error"] == "Request body too large"
    assert pulled <= (1 << 20) + 2 * chunk
