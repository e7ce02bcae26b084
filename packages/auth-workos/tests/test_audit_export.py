"""Audit export to WorkOS Audit Logs: shape, limits, retries, never blocking, local copy kept."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from mastra.auth.workos import flatten_metadata, to_workos_event
from mastra.core.ee.audit import MemoryAuditStorage, emit
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditFilter, AuditResource, Pagination
from mastra.core.ee.provider import MastraAuthProvider

ORG = "org_01EMULATED"


def sign_in_event(**overrides: Any) -> AuditEventInput:
    data: dict[str, Any] = {
        "actor": AuditActor(
            type="user", id="user_01", email="a@b.c", ip="203.0.113.9", user_agent="Mozilla/5.0"
        ),
        "action": "auth.sign-in",
        "outcome": "success",
        "resource": AuditResource(type="user", id="user_01"),
        "metadata": {"method": "sso"},
        "duration": 12,
    }
    data.update(overrides)
    return AuditEventInput(**data)


def test_event_shape_matches_the_spec_example() -> None:
    event = to_workos_event(sign_in_event(), prefix="mastra", event_id="ev-1")
    assert event["action"] == "mastra.auth.sign-in"
    assert event["version"] == 1
    assert event["actor"] == {"id": "user_01", "type": "user", "name": "a@b.c"}
    assert event["targets"] == [{"id": "user_01", "type": "user", "name": "a@b.c"}]
    assert event["context"] == {"location": "203.0.113.9", "user_agent": "Mozilla/5.0"}
    assert event["metadata"] == {
        "outcome": "success",
        "duration": 12,
        "mastra_event_id": "ev-1",
        "method": "sso",
    }
    assert event["occurred_at"].endswith("Z") and len(event["occurred_at"]) == 24
    bare = to_workos_event(
        sign_in_event(resource=None, actor=AuditActor(type="system", id="cli")), prefix="mastra", event_id="e"
    )
    assert bare["targets"] == [{"id": "system", "type": "system", "name": "System"}]
    assert bare["context"] == {"location": "unknown"}


def test_metadata_respects_workos_limits() -> None:
    class Opaque:
        pass

    meta = {f"key{i}": i for i in range(80)}
    meta.update(
        {
            "nested": {"a": {"b": True}},
            "long": "x" * 900,
            "list": [1, 2],
            "bad key!": "v",
            "k" * 60: 1,
            "obj": Opaque(),
        }
    )
    flat = flatten_metadata(meta, reserved={"outcome": "success"})
    assert len(flat) == 50
    assert flat["outcome"] == "success"
    import re

    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", k) for k in flat)
    assert all(isinstance(v, str | int | float | bool) for v in flat.values())
    small = flatten_metadata(
        {"nested": {"a": {"b": True}}, "long": "x" * 900, "list": [1, 2], "bad key!": "v", "obj": Opaque()}
    )
    assert small == {
        "nested_a_b": True,
        "long": "x" * 500,
        "list": "[1,2]",
        "bad_key_": "v",
        "obj": "<unserializable>",
    }


@pytest.fixture
def auth(provider) -> MastraAuthProvider:
    composed = MastraAuthProvider(audit=provider, audit_storage=MemoryAuditStorage())
    provider.bind(composed)
    return composed


async def test_events_are_exported_with_idempotency_keys_and_kept_locally(auth, provider, emulator) -> None:
    stored = await emit(
        auth, sign_in_event(actor=AuditActor(type="user", id="user_01", email="a@b.c", organization_id=ORG))
    )
    await provider.flush_audit()
    (sent,) = emulator.audit_events
    assert sent["organization_id"] == ORG
    assert sent["idempotency_key"] == f"mastra-audit-{stored.id}"
    assert sent["event"]["metadata"]["mastra_event_id"] == stored.id
    assert sent["event"]["action"] == "mastra.auth.sign-in"
    page = await auth.audit_storage.list(AuditFilter(), Pagination())
    assert [e.id for e in page.events] == [stored.id]


async def test_transient_failures_are_retried_then_succeed(auth, provider, emulator) -> None:
    emulator.audit_fail_times = 2
    await emit(auth, sign_in_event())
    await provider.flush_audit()
    assert emulator.audit_attempts == 3 and len(emulator.audit_events) == 1


async def test_outage_drops_after_bounded_retries_without_blocking_or_losing_the_local_copy(
    auth, provider, emulator, caplog
) -> None:
    emulator.audit_fail_times = 100
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="mastra.auth.workos"):
        for _ in range(5):
            await emit(auth, sign_in_event())
        elapsed = time.perf_counter() - started
        await provider.flush_audit()
    assert elapsed < 0.5  # requests never wait for WorkOS (5 events incl. local storage)
    assert emulator.audit_attempts == 15  # 3 attempts per event, then dropped
    assert emulator.audit_events == []
    dropped = [r for r in caplog.records if r.levelno == logging.ERROR and "dropped event" in r.getMessage()]
    assert len(dropped) == 5
    page = await auth.audit_storage.list(AuditFilter(), Pagination())
    assert page.pagination.total == 5  # the local, hash-chained copy is complete


async def test_client_errors_are_not_retried(auth, provider, emulator, caplog) -> None:
    emulator.audit_fail_times, emulator.audit_status = 1, 422
    with caplog.at_level(logging.ERROR, logger="mastra.auth.workos"):
        await emit(auth, sign_in_event())
        await provider.flush_audit()
    assert emulator.audit_attempts == 1
    assert any("dropped event" in r.getMessage() for r in caplog.records)


async def test_events_without_organization_are_skipped_with_one_warning(
    workos_options, emulator, caplog
) -> None:
    from mastra.auth.workos import WorkOSAuthProvider

    p = WorkOSAuthProvider.from_options({**workos_options, "organization_id": None})
    with caplog.at_level(logging.WARNING, logger="mastra.auth.workos"):
        await p.log(sign_in_event())
        await p.log(sign_in_event())
    assert sum("skips events without an organization" in r.getMessage() for r in caplog.records) == 1
    assert emulator.audit_attempts == 0
    await p.aclose()


async def test_close_sends_events_queued_just_before_it(workos_options, settings, emulator) -> None:
    """Shutdown used to cancel the worker: events queued right before close were lost."""
    from mastra.auth.workos import WorkOSAuthProvider
    from mastra.core.ee.options import ProviderOptions

    p = WorkOSAuthProvider.from_options(ProviderOptions(workos_options, settings))
    for _ in range(5):
        await p.log(sign_in_event())
    await p.aclose()
    assert len(emulator.audit_events) == 5
    assert len({e["idempotency_key"] for e in emulator.audit_events}) == 5


async def test_close_gives_up_on_an_unreachable_workos_after_its_timeout(
    workos_options, settings, emulator, caplog
) -> None:
    from mastra.auth.workos import WorkOSAuthProvider
    from mastra.core.ee.options import ProviderOptions

    p = WorkOSAuthProvider.from_options(ProviderOptions(workos_options, settings))
    p.audit_backoff, p.audit_close_timeout = 5.0, 0.3  # retries would outlast the close
    emulator.audit_fail_times = 100
    await p.log(sign_in_event())
    started = time.perf_counter()
    with caplog.at_level(logging.ERROR, logger="mastra.auth.workos"):
        await p.aclose()
    assert time.perf_counter() - started < 2.0
    assert emulator.audit_events == []
    assert any("dropped 1 queued event(s) at shutdown" in r.getMessage() for r in caplog.records)
