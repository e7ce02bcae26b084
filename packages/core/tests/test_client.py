"""The Python client (mastra.core.client) against the real app over ASGI transport."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastra.core.client import (
    AsyncMastraClient,
    AuthenticationRequired,
    MastraClient,
    MastraClientError,
    PermissionDenied,
    ServiceUnavailable,
    normalise_prefix,
    permission_checker,
)
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditFilter, AuditResource
from mastra.core.testing.reference import reference_app, reference_settings
from mastra.core.testing.servers import BackgroundServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PASSWORD = "correct horse battery"
BASE = "http://localhost"


class Counter:
    """httpx event hook counting requests per path."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.paths.append(request.url.path)


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url))


def async_client(app: Any, counter: Counter | None = None, **kwargs: Any) -> AsyncMastraClient:
    hooks = {"request": [counter]} if counter else {}
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, event_hooks=hooks)
    return AsyncMastraClient(BASE, http_client=http, **kwargs)


@pytest.fixture
async def owner(app: Any) -> AsyncIterator[AsyncMastraClient]:
    client = async_client(app)
    await client.sign_up("owner@example.com", PASSWORD, "Olive Owner")
    yield client
    await client.http.aclose()


def test_normalise_prefix() -> None:
    assert normalise_prefix("/mastra") == "/mastra"
    assert normalise_prefix(" custom-api/ ") == "/custom-api"
    assert normalise_prefix("") == ""
    assert normalise_prefix(None) == "/api"


async def test_capabilities_cached_and_shared_between_concurrent_callers(app: Any) -> None:
    counter = Counter()
    client = async_client(app, counter)
    results = await asyncio.gather(*(client.capabilities() for _ in range(5)))
    assert all(
        r == {"enabled": True, "login": {"type": "credentials", "signUpEnabled": True}} for r in results
    )
    await client.capabilities()
    assert counter.paths.count("/api/auth/capabilities") == 1
    await client.capabilities(refresh=True)
    assert counter.paths.count("/api/auth/capabilities") == 2
    await client.http.aclose()


async def test_sign_up_sign_in_me_and_sign_out(app: Any, owner: AsyncMastraClient) -> None:
    me = await owner.me()
    assert me is not None and me["email"] == "owner@example.com" and me["roles"] == ["owner"]
    caps = await owner.capabilities()
    assert caps["user"]["name"] == "Olive Owner" and caps["access"]["permissions"] == ["*"]
    assert await owner.has_permission("audit:read")
    assert await owner.has_all_permissions(["agents:write", "settings:delete"])
    result = await owner.sign_out()
    assert result["success"] is True
    assert await owner.me() is None
    with pytest.raises(AuthenticationRequired):
        await owner.sessions()
    signed = await owner.sign_in("OWNER@example.com", PASSWORD)
    assert signed["user"]["email"] == "owner@example.com"
    assert (await owner.me()) is not None


async def test_wrong_password_raises_the_server_message(app: Any, owner: AsyncMastraClient) -> None:
    other = async_client(app)
    with pytest.raises(AuthenticationRequired) as info:
        await other.sign_in("owner@example.com", "wrong password!")
    assert info.value.message == "Invalid email or password" and info.value.status == 401
    with pytest.raises(MastraClientError) as dup:
        await other.sign_up("owner@example.com", PASSWORD)
    assert dup.value.status == 400 and dup.value.message == "Failed to create account"
    await other.http.aclose()


async def test_unsafe_requests_send_the_origin_the_server_checks(app: Any, owner: AsyncMastraClient) -> None:
    # Sign-out with a session cookie is CSRF-checked: the client's Origin passes...
    sessions = await owner.sessions()
    assert len(sessions) == 1 and sessions[0]["current"] is True
    # ...and a foreign Origin is refused, proving the check is real.
    owner.extra_headers["Origin"] = "http://evil.example"
    with pytest.raises(PermissionDenied) as info:
        await owner.revoke_other_sessions()
    assert info.value.message == "Cross-origin request rejected"


async def test_sessions_list_and_revoke_another_device(app: Any, owner: AsyncMastraClient) -> None:
    laptop = async_client(app)
    await laptop.sign_in("owner@example.com", PASSWORD)
    listed = await owner.sessions()
    assert len(listed) == 2
    other = next(s for s in listed if not s["current"])
    assert set(other) >= {"handle", "createdAt", "expiresAt", "current"}
    assert await owner.revoke_session(other["handle"]) is True
    assert await laptop.me() is None
    with pytest.raises(MastraClientError) as info:
        await owner.revoke_session("0" * 32)
    assert info.value.status == 404
    await laptop.sign_in("owner@example.com", PASSWORD)
    assert await owner.revoke_other_sessions() == 1
    assert await laptop.me() is None and await owner.me() is not None
    await laptop.http.aclose()


async def _seed(app: Any) -> None:
    storage = app.state.mastra_ee.auth.audit_storage
    for i in range(7):
        await storage.append(
            AuditEventInput(
                actor=AuditActor(type="system", id="cron", email='=HYPERLINK("x")' if i == 0 else None),
                action=f"jobs.run{i % 2}",
                outcome="failure" if i % 3 == 0 else "success",
                resource=AuditResource(type="job", id=f"j{i}"),
            )
        )


async def test_audit_list_get_stats_and_iteration(app: Any, owner: AsyncMastraClient) -> None:
    await _seed(app)
    page = await owner.audit_list(action_prefix="jobs.", per_page=3)
    assert page.pagination.total == 7 and page.pagination.has_more is True and len(page.events) == 3
    seqs = [e.seq for e in page.events]
    assert seqs == sorted(seqs, reverse=True)
    failures = await owner.audit_list(AuditFilter(action_prefix="jobs.", outcome="failure"))
    assert {e.outcome for e in failures.events} == {"failure"} and failures.pagination.total == 3
    exact = await owner.audit_list(action=["jobs.run1"], actor_type="system")
    assert {e.action for e in exact.events} == {"jobs.run1"}
    all_jobs = [e async for e in owner.iter_audit_events(action_prefix="jobs.", per_page=2)]
    assert len(all_jobs) == 7 and len({e.id for e in all_jobs}) == 7
    one = await owner.audit_get(page.events[0].id)
    assert one.hash == page.events[0].hash and len(one.prev_hash) == 64
    with pytest.raises(MastraClientError) as info:
        await owner.audit_get("missing")
    assert info.value.status == 404 and info.value.message == "Audit event not found"
    buckets = await owner.audit_stats(action_prefix="jobs.")
    assert sum(b["success"] + b["failure"] + b["denied"] for b in buckets) == 7
    with pytest.raises(TypeError):
        await owner.audit_list(colour="blue")


async def test_audit_export_formats_to_bytes_and_files(
    app: Any, owner: AsyncMastraClient, tmp_path: Path
) -> None:
    await _seed(app)
    data = json.loads(await owner.audit_export("json", action_prefix="jobs."))
    assert len(data) == 7 and data[0]["seq"] > data[-1]["seq"]
    target = tmp_path / "out.csv"
    written = await owner.audit_export("csv", output=target, action_prefix="jobs.")
    assert written == target.stat().st_size > 0
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["id", "timestamp", "actorType"] and len(rows) == 8
    assert '\'=HYPERLINK("x")' in [r[4] for r in rows]  # formula injection neutralised
    lines = (await owner.audit_export("jsonl", action="jobs.run0")).decode().splitlines()
    assert all(json.loads(line)["action"] == "jobs.run0" for line in lines) and len(lines) == 4
    with pytest.raises(ValueError):
        await owner.audit_export("xml")


async def test_viewer_is_denied_the_audit_api(app: Any, owner: AsyncMastraClient) -> None:
    viewer = async_client(app)
    await viewer.sign_up("viewer@example.com", PASSWORD)
    assert not await viewer.has_permission("audit:read")
    assert await viewer.has_permission("agents:read:any-agent")
    assert await viewer.has_any_permission(["audit:read", "logs:read"])
    assert not await viewer.has_all_permissions(["audit:read", "logs:read"])
    with pytest.raises(PermissionDenied) as info:
        await viewer.audit_list()
    assert info.value.message == "Missing required permission: audit:read"
    with pytest.raises(PermissionDenied):
        await viewer.audit_export("csv")
    await viewer.http.aclose()


async def test_rbac_off_means_every_check_passes(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url, auth={"rbac": None}))
    client = async_client(app)
    await client.sign_up("solo@example.com", PASSWORD)
    assert (await client.capabilities())["capabilities"]["rbac"] is False
    assert await client.has_permission("settings:delete")
    assert await client.has_all_permissions(["*", "anything"])
    await client.http.aclose()


def test_permission_checker_follows_the_server_matcher() -> None:
    caps = {
        "enabled": True,
        "capabilities": {"rbac": True},
        "access": {"permissions": ["agents:*", "*:read:t1"]},
    }
    check = permission_checker(caps)
    assert check.has_permission("agents:execute:a")
    assert check.has_permission("tools:read:t1") and not check.has_permission("tools:read:t2")
    assert not check.has_permission("agents")  # plain equality for malformed requirements
    assert check.has_all_permissions([]) and not check.has_any_permission([])
    assert permission_checker({"enabled": False, "login": None}).has_permission("anything")
    assert not permission_checker({**caps, "access": None}).has_permission("agents:read")


async def test_custom_api_prefix(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url, api_prefix="/custom-api/"))
    client = async_client(app, api_prefix="custom-api/")
    await client.sign_up("p@example.com", PASSWORD)
    assert (await client.me()) is not None
    await client.http.aclose()


# -- /auth/me retry policy, against a small emulator that answers with chosen statuses ----


def flaky_app(statuses: list[int]) -> tuple[Starlette, list[int]]:
    seen: list[int] = []

    async def me(request: Request) -> JSONResponse:
        status = statuses[len(seen)] if len(seen) < len(statuses) else 200
        seen.append(status)
        return JSONResponse({"id": "u1"} if status == 200 else {"error": "x"}, status_code=status)

    return Starlette(routes=[Route("/api/auth/me", me)]), seen


async def test_me_retries_only_503_with_backoff() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    app, seen = flaky_app([503, 503, 200])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    client = AsyncMastraClient(BASE, http_client=http, sleep=sleep)
    assert await client.me() == {"id": "u1"}
    assert slept == [0.5, 1.0] and seen == [503, 503, 200]

    for status in (401, 500):
        app, seen = flaky_app([status])
        client = AsyncMastraClient(
            BASE, http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)), sleep=sleep
        )
        slept.clear()
        with pytest.raises(MastraClientError) as info:
            await client.me()
        assert (
            info.value.message == f"Failed to fetch current user: {status}"
            and seen == [status]
            and slept == []
        )

    app, seen = flaky_app([503] * 10)
    client = AsyncMastraClient(
        BASE, http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)), sleep=sleep
    )
    with pytest.raises(ServiceUnavailable):
        await client.me()
    assert len(seen) == 4 and slept == [0.5, 1.0, 2.0]


# -- the blocking client ---------------------------------------------------------------------


def test_sync_client_full_flow(app: Any, tmp_path: Path) -> None:
    # The blocking client over real HTTP on loopback (the server runs in its own thread).
    with BackgroundServer(app) as server, MastraClient(server.url) as client:
        assert client.capabilities()["login"]["type"] == "credentials"
        with pytest.raises(AuthenticationRequired):
            client.sign_in("nobody@example.com", PASSWORD)
        client.sign_up("sync@example.com", PASSWORD, "Sync User")
        me = client.me()
        assert me is not None and me["name"] == "Sync User"
        assert client.has_permission("*")
        page = client.audit_list(action="auth.sign-up")
        assert page.pagination.total == 1 and page.events[0].actor.email == "sync@example.com"
        assert client.audit_get(page.events[0].id).seq == page.events[0].seq
        out = tmp_path / "audit.json"
        assert client.audit_export("json", output=out) > 0
        assert {e["action"] for e in json.loads(out.read_text())} >= {"auth.sign-up", "auth.sign-in"}
        assert len(list(client.iter_audit_events(per_page=1))) == client.audit_list().pagination.total
        assert len(client.sessions()) == 1
        assert client.sign_out()["success"] is True
        assert client.me() is None


async def test_an_api_key_authenticates_client_calls(app: Any, owner: AsyncMastraClient) -> None:
    keys = app.state.mastra_ee.auth.api_keys
    me = await owner.me()
    assert me is not None
    auditor = await keys.create_key("user", me["id"], name="script", scopes=["audit:read"])
    reader = await keys.create_key("user", me["id"], name="reader", scopes=["agents:read"])
    client = async_client(app, api_key=auditor.secret)
    assert client.headers("GET")["Authorization"] == f"Bearer {auditor.secret}"
    assert (await client.audit_list(action="auth.sign-up")).pagination.total == 1
    assert (await client.me() or {})["id"] == me["id"]
    # Out of the key's scopes: a 403 although its owner may.
    scoped = async_client(app, api_key=reader.secret)
    with pytest.raises(PermissionDenied) as denied:
        await scoped.audit_list()
    assert denied.value.message == "Missing required permission: audit:read"
    await keys.revoke(auditor.key.id)
    with pytest.raises(AuthenticationRequired) as refused:
        await client.audit_list()
    assert refused.value.message == "The API key has been revoked"
    for c in (client, scoped):
        await c.http.aclose()


def test_the_sync_client_takes_an_api_key_not_with_a_token() -> None:
    with MastraClient(BASE, api_key="mk_dev_x") as client:
        assert client.headers("POST")["Authorization"] == "Bearer mk_dev_x"
    with pytest.raises(ValueError, match="either token= or api_key="):
        MastraClient(BASE, token="t", api_key="mk_dev_x")
