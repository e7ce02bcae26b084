"""WorkOS revocations and webhook ids across nodes (issue #14): two "nodes" (two
provider-side objects attached to two SharedStates) on one PostgreSQL or one Redis, with
the real invalidation channel; a third node that starts later loads what it missed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from mastra.auth.workos._revocations import Revocations
from mastra.auth.workos.webhooks._replay import SeenEvents
from mastra.core.ee.settings import Settings
from mastra.core.ee.shared import SharedState, open_shared_state


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def settings(request: pytest.FixtureRequest, sqlite_url: str) -> Settings:
    if request.param == "postgres":
        return Settings(database_url=request.getfixturevalue("postgres_url"))
    return Settings(database_url=sqlite_url, redis_url=request.getfixturevalue("redis_url"))


@pytest.fixture
async def nodes(settings: Settings) -> AsyncIterator[Callable[[], Any]]:
    started: list[SharedState] = []

    async def node() -> SharedState:
        shared = open_shared_state(settings)
        started.append(shared)
        return shared

    yield node
    for shared in started:
        await shared.close()


async def _eventually(check: Callable[[], bool], timeout: float = 2.0) -> float:
    started = time.perf_counter()
    while not check():
        assert time.perf_counter() - started < timeout, "not seen in time"
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def test_a_revocation_reaches_every_node_and_later_ones(nodes: Any) -> None:
    one_state, other_state = await nodes(), await nodes()
    one, other = Revocations(), Revocations()
    one.attach(one_state)
    other.attach(other_state)
    await one_state.start()
    await other_state.start()
    assert one_state.connected and other_state.connected

    await one.revoke_session("session_a")
    assert one.is_revoked(sid="session_a", user_id=None, auth_time=None)  # at once where it happened
    took = await _eventually(lambda: other.is_revoked(sid="session_a", user_id=None, auth_time=None))
    assert took < 1.0
    assert not other.is_revoked(sid="session_b", user_id=None, auth_time=None)

    before = int(time.time())
    await other.revoke_user("user_1")
    await _eventually(lambda: one.is_revoked(sid=None, user_id="user_1", auth_time=before))
    assert not one.is_revoked(sid=None, user_id="user_1", auth_time=before + 3600)  # a later login

    late_state = await nodes()
    late = Revocations()
    late.attach(late_state)
    await late_state.start()  # loads what was revoked before it existed
    assert late.is_revoked(sid="session_a", user_id=None, auth_time=None)
    assert late.is_revoked(sid=None, user_id="user_1", auth_time=before)


async def test_a_webhook_id_runs_once_across_nodes(nodes: Any) -> None:
    states = [await nodes(), await nodes()]
    seen = [SeenEvents(), SeenEvents()]
    for events, state in zip(seen, states, strict=True):
        events.attach(state)
        await state.start()
    results = await asyncio.gather(*(events.first_time("event_01") for events in seen * 3))
    assert sorted(results) == [False] * 5 + [True]


async def test_a_forged_message_cannot_lower_or_clear_a_revocation(nodes: Any) -> None:
    """Anyone who can send on the channel (any database role can NOTIFY) can only make a
    node reload from the store: a message carrying a value changes nothing."""
    one_state, other_state, forger = await nodes(), await nodes(), await nodes()
    one, other = Revocations(), Revocations()
    one.attach(one_state)
    other.attach(other_state)
    for state in (one_state, other_state, forger):
        await state.start()
    await one.revoke_session("session_x")
    before = int(time.time())
    await one.revoke_user("user_x")
    await _eventually(lambda: other.is_revoked(sid="session_x", user_id=None, auth_time=None))
    await _eventually(lambda: other.is_revoked(sid=None, user_id="user_x", auth_time=before))
    for forged in (
        {"ns": "workos-sessions", "key": "session_x", "value": ""},
        {"ns": "workos-users", "key": "user_x", "value": "0"},
        {"ns": "workos-users", "key": "user_x", "value": "not a number"},
    ):
        await forger.bus.publish("marks", forged)
    await asyncio.sleep(0.3)
    assert other.is_revoked(sid="session_x", user_id=None, auth_time=None)
    assert other.is_revoked(sid=None, user_id="user_x", auth_time=before)


async def test_a_node_that_never_started_reads_the_store(nodes: Any) -> None:
    """An app whose lifespan never ran has no channel: it must not trust its copy."""
    started_state, idle_state = await nodes(), await nodes()
    started, idle = Revocations(), Revocations()
    started.attach(started_state)
    idle.attach(idle_state)
    await started_state.start()
    await started.revoke_session("session_y")
    await idle.refresh()
    assert idle.is_revoked(sid="session_y", user_id=None, auth_time=None)
