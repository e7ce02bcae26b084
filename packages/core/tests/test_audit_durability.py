"""Audit durability by group commit (issue #14): ``auth.*`` events are committed before
``emit`` returns, concurrent waiters share one transaction, ``kill -9`` loses no
acknowledged sign-in."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastra.core.ee.audit import SQLAuditStorage, emit, events_table, verify_chain
from mastra.core.ee.db import dispose_engines
from mastra.core.ee.models import AuditEvent, AuditEventInput, AuditFilter, Pagination
from mastra.core.ee.provider import MastraAuthProvider, with_ee
from mastra.core.testing.audit import make_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine


async def _committed(database_url: str, action: str | None = None) -> int:
    """Rows a separate engine (its own connections) sees: only committed ones."""
    engine = create_async_engine(database_url)
    try:
        query = select(func.count()).select_from(events_table)
        if action is not None:
            query = query.where(events_table.c.action == action)
        async with engine.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)
    finally:
        await engine.dispose()


def _counting(storage: SQLAuditStorage) -> list[int]:
    """Batch sizes of every transaction the storage's writer commits."""
    sizes: list[int] = []
    original = storage.append_many

    async def counted(events: Any, **kwargs: Any) -> list[AuditEvent]:
        events = list(events)
        stored = await original(events, **kwargs)
        sizes.append(len(events))
        return stored

    storage.append_many = counted  # type: ignore[method-assign]
    return sizes


@pytest.mark.parametrize("durability", ["auth", "sync"])
async def test_waited_event_is_committed_when_emit_returns(database_url: str, durability: str) -> None:
    # A long window: without the wait the event would sit in the queue for 10 s.
    storage = SQLAuditStorage(database_url, durability=durability, flush_interval=10)  # type: ignore[arg-type]
    await storage.append(make_event("test.setup"))  # tables exist for the outside reader
    auth = with_ee(MastraAuthProvider(), audit_storage=storage)
    stored = await emit(auth, make_event("auth.sign-in"))
    assert stored is not None and stored.action == "auth.sign-in" and stored.seq == 2
    assert await _committed(database_url, "auth.sign-in") == 1
    await storage.aclose()
    await dispose_engines()


async def test_concurrent_waiters_share_transactions(database_url: str) -> None:
    storage = SQLAuditStorage(database_url)
    await storage.append(make_event("test.setup"))
    sizes = _counting(storage)
    auth = with_ee(MastraAuthProvider(), audit_storage=storage)
    results = await asyncio.gather(*(emit(auth, make_event("auth.login")) for _ in range(200)))
    assert all(r is not None for r in results)
    assert sum(sizes) == 200 and len(sizes) <= 10, sizes
    assert await _committed(database_url, "auth.login") == 200
    assert sorted(r.seq for r in results if r is not None) == list(range(2, 202))
    report = await verify_chain(storage)
    assert report.ok and report.count == 201
    await storage.aclose()
    await dispose_engines()


async def test_buffered_and_non_auth_events_do_not_wait(sqlite_url: str) -> None:
    for durability, action in (("buffered", "auth.sign-in"), ("auth", "users.role-change")):
        storage = SQLAuditStorage(sqlite_url, durability=durability, flush_interval=10)  # type: ignore[arg-type]
        await storage.append(make_event("test.setup"))
        before = await _committed(sqlite_url, action)
        auth = with_ee(MastraAuthProvider(), audit_storage=storage)
        assert await asyncio.wait_for(emit(auth, make_event(action)), 2) is None  # queued only
        assert await _committed(sqlite_url, action) == before  # not committed yet
        await storage.aclose()
        assert await _committed(sqlite_url, action) == before + 1
    await dispose_engines()


async def test_a_reader_in_the_same_process_sees_queued_events(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url, durability="buffered", flush_interval=10)
    auth = with_ee(MastraAuthProvider(), audit_storage=storage)
    await emit(auth, make_event("users.role-change"))
    await asyncio.sleep(0.05)  # the writer now holds it in its 10 s window, out of the queue
    page = await storage.list(AuditFilter(), Pagination(per_page=5))
    assert [e.action for e in page.events] == ["users.role-change"]
    await storage.aclose()
    await dispose_engines()


async def test_a_failed_commit_is_logged_and_never_reported_stored(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = SQLAuditStorage(sqlite_url, durability="sync")
    storage.writer.max_attempts = 2

    async def broken(events: Any, **kwargs: Any) -> list[AuditEvent]:
        raise ConnectionError("database is gone")

    storage.append_many = broken  # type: ignore[method-assign]
    logged: list[AuditEventInput] = []

    class Recorder:
        async def log(self, event: AuditEventInput) -> None:
            logged.append(event)

    auth = with_ee(MastraAuthProvider(), audit_storage=storage, audit=Recorder())
    with caplog.at_level(logging.ERROR, logger="mastra.ee.audit"):
        # A waited event the database could not take: the action must not report success.
        with pytest.raises(ConnectionError, match="database is gone"):
            await emit(auth, make_event("auth.sign-in"))
    assert "Audit writer abandoned 1 events after 2 attempts: database is gone" in caplog.text
    assert "Audit storage failed to record 'auth.sign-in': ConnectionError: database is gone" in caplog.text
    assert len(logged) == 1 and not isinstance(logged[0], AuditEvent)  # the input, not a stored event
    await storage.aclose()


def test_options_durability_and_the_deprecated_buffered_alias() -> None:
    url = {"database_url": "sqlite+aiosqlite:///x.db"}
    assert SQLAuditStorage.from_options(url).durability == "auth"
    assert SQLAuditStorage.from_options({**url, "durability": "sync"}).durability == "sync"
    assert SQLAuditStorage.from_options({**url, "buffered": "true"}).durability == "buffered"
    assert SQLAuditStorage.from_options({**url, "buffered": "false"}).durability == "auth"
    from mastra.core.ee.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="contradicts durability = 'sync'"):
        SQLAuditStorage.from_options({**url, "buffered": "1", "durability": "sync"})


# -- kill -9 during 200 concurrent sign-ins -------------------------------------------

USERS = 200
PASSWORD = "durable password 123"


async def _sign_ups(url: str) -> None:
    limits = asyncio.Semaphore(20)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        async with limits:
            r = await client.post(
                "/api/auth/credentials/sign-up", json={"email": f"u{i}@example.com", "password": PASSWORD}
            )
            assert r.status_code == 201, r.text

    async with httpx.AsyncClient(base_url=url, headers={"origin": url}, timeout=60) as client:
        await asyncio.gather(*(one(client, i) for i in range(USERS)))


async def _sign_ins_until_killed(url: str, pid: int) -> list[str]:
    """Fire every sign-in at once; ``kill -9`` the server after half have answered."""
    ok: list[str] = []
    answered = 0

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal answered
        email = f"u{i}@example.com"
        try:
            r = await client.post(
                "/api/auth/credentials/sign-in", json={"email": email, "password": PASSWORD}
            )
        except httpx.HTTPError:
            return
        if r.status_code == 200:
            ok.append(email)
        answered += 1
        if answered == USERS // 2:
            os.kill(pid, signal.SIGKILL)

    limits = httpx.Limits(max_connections=USERS, max_keepalive_connections=USERS)
    async with httpx.AsyncClient(base_url=url, headers={"origin": url}, timeout=60, limits=limits) as client:
        await asyncio.gather(*(one(client, i) for i in range(USERS)))
    return ok


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_sign_in(tmp_path: Path) -> None:
    from mastra.core.testing.reference import ServeProcess

    db = tmp_path / "mastra.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    env.update(
        MASTRA_AUTH_SECRET="durability-secret-0123456789abcdefghijkl",
        MASTRA_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        MASTRA_EE_DISABLED_PLUGINS="better,workos,cloud,oidc",
        MASTRA_EE_EXTRA_PLUGINS="mastra.core.testing.reference:plugin",
        MASTRA_AUTH__USER="reference",
        MASTRA_AUTH__CREDENTIALS="reference",
        MASTRA_AUTH__SESSION="cookie",
        MASTRA_AUTH__AUDIT_STORAGE="sql",
        MASTRA_AUTH__RATE_LIMIT__IP="1000000/60",
        MASTRA_AUTH__RATE_LIMIT__ACCOUNT="1000000/60",
        MASTRA_AUTH__RATE_LIMIT__SIGN_UP="1000000/60",
    )
    server = ServeProcess(tmp_path, env)
    server.env = env
    with server:
        asyncio.run(_sign_ups(server.url))
        ok = asyncio.run(_sign_ins_until_killed(server.url, server.process.pid))
    assert server.returncode == -signal.SIGKILL
    assert ok, "no sign-in answered before the kill"
    with sqlite3.connect(db) as conn:
        logged = {
            row[0]
            for row in conn.execute(
                "SELECT actor_email FROM mastra_audit_events"
                " WHERE action = 'auth.sign-in' AND outcome = 'success'"
            )
        }
    missing = sorted(set(ok) - logged)
    assert not missing, f"{len(missing)} acknowledged sign-ins lost: {missing[:5]}"


async def test_a_sign_in_whose_event_cannot_be_committed_is_503_not_200(sqlite_url: str) -> None:
    """Caught by the PostgreSQL-restart fault test: a sign-in committed its session just
    before the outage, its ``auth.sign-in`` event could not be, and the client got 200
    (``record`` swallowed the failure). A waited event lost to an outage now fails the
    request: 503, no session cookie, while events nobody waits for still never do."""
    from mastra.core.testing.reference import reference_app, reference_settings

    settings = reference_settings(sqlite_url, auth={"audit_storage": "sql"})
    app = reference_app(settings)
    origin = {"origin": "http://localhost"}
    # The server's error handler answers; Starlette then re-raises to the ASGI server.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=origin) as c:
        body = {"email": "owner@example.com", "password": "correct horse battery"}
        assert (await c.post("/api/auth/credentials/sign-up", json=body)).status_code == 201
        c.cookies.clear()
        storage = app.state.mastra_ee.auth.audit_storage
        storage.writer.max_attempts = 2

        async def outage(events: Any, **kwargs: Any) -> list[AuditEvent]:
            raise ConnectionRefusedError("the database is restarting")

        storage.append_many = outage
        r = await c.post("/api/auth/credentials/sign-in", json=body)
        assert r.status_code == 503, r.text
        assert "mastra_session" not in r.cookies
