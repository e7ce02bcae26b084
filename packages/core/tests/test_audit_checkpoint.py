"""Signed checkpoints of the audit chain (SPEC S28): truncation and rewrites detected
against a checkpoint kept elsewhere, forged checkpoints refused, periodic checkpoints
logged to ``mastra.audit``. Storage tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from mastra.core.ee.audit import (
    ZERO_HASH,
    ChainKeys,
    Checkpoint,
    MemoryAuditStorage,
    SQLAuditStorage,
    compute_event_hash,
    events_table,
    head_checkpoint,
    parse_checkpoints,
    sign_checkpoint,
    verify_chain,
)
from mastra.core.ee.audit._checkpoint import CHECKPOINT_LOG_PREFIX
from mastra.core.ee.db import get_engine
from mastra.core.ee.models import AuditFilter
from mastra.core.ee.options import ProviderOptions
from mastra.core.testing.audit import FakeClock, make_event
from sqlalchemy import delete, update

SECRET = "checkpoint-secret-0123456789abcdefghijk"
OTHER = "another-secret-0123456789abcdefghijklmn"
KEYS = ChainKeys.from_secrets(SECRET)


async def _delete_after(url: str, seq: int) -> None:
    async with get_engine(url).begin() as conn:
        await conn.execute(delete(events_table).where(events_table.c.seq > seq))


def _logged_checkpoints(caplog: pytest.LogCaptureFixture) -> list[Checkpoint]:
    lines = [r.getMessage() for r in caplog.records if r.name == "mastra.audit"]
    assert all(line.startswith(CHECKPOINT_LOG_PREFIX) for line in lines)
    return parse_checkpoints("\n".join(lines)) if lines else []


# -- truncation ------------------------------------------------------------------------


async def test_deleting_the_newest_events_is_detected_against_a_checkpoint(database_url: str) -> None:
    storage = SQLAuditStorage(database_url, chain_keys=KEYS)
    await storage.append_many([make_event(f"test.e{i}") for i in range(100)])
    checkpoint = await head_checkpoint(storage, KEYS)
    assert checkpoint.seq == 100
    await _delete_after(database_url, 50)
    # Plain verify cannot see it: the shorter chain is valid (the reason checkpoints exist).
    assert (await verify_chain(storage)).describe() == "OK 50 events"
    report = await verify_chain(storage, checkpoints=[checkpoint])
    assert not report.ok and report.checkpoint and report.broken_seq == 100
    assert report.describe() == (
        "CHECKPOINT seq 100 not extended: the log ends at seq 50 (events after it were removed)"
    )


async def test_a_checkpoint_is_extended_by_later_events(database_url: str) -> None:
    storage = SQLAuditStorage(database_url, chain_keys=KEYS)
    await storage.append_many([make_event("test.before")] * 10)
    checkpoint = await head_checkpoint(storage, KEYS)
    await storage.append_many([make_event("test.after")] * 5)
    report = await verify_chain(storage, checkpoints=[checkpoint])
    assert report.ok and report.count == 15 and report.checkpoints == 1
    # Deleting only what came after the newest checkpoint is the gap that remains:
    # ship checkpoints off the host often.
    await _delete_after(database_url, 12)
    assert (await verify_chain(storage, checkpoints=[checkpoint])).ok
    await _delete_after(database_url, 9)
    assert not (await verify_chain(storage, checkpoints=[checkpoint])).ok


async def test_an_entirely_unkeyed_rewrite_passes_plain_verify_but_not_a_checkpoint(
    database_url: str,
) -> None:
    storage = SQLAuditStorage(database_url, chain_keys=KEYS)
    await storage.append_many([make_event(f"test.e{i}") for i in range(5)])
    checkpoint = await head_checkpoint(storage, KEYS)
    # The attacker rewrites the whole log as "legacy" plain SHA-256 rows.
    events = [e async for e in storage.iter_events(AuditFilter(), ascending=True)]
    prev = ZERO_HASH
    async with get_engine(database_url).begin() as conn:
        for event in events:
            event.action = "test.cover-up" if event.seq == 2 else event.action
            event.prev_hash = prev
            event.hash = prev = compute_event_hash(event.to_json())
            await conn.execute(
                update(events_table)
                .where(events_table.c.seq == event.seq)
                .values(action=event.action, prev_hash=event.prev_hash, hash=event.hash, chain_kid=None)
            )
    plain = await verify_chain(storage)
    assert plain.ok and plain.legacy == 5  # indistinguishable from a log written before keying
    report = await verify_chain(storage, checkpoints=[checkpoint])
    assert not report.ok and report.checkpoint and report.broken_seq == 5
    assert "different hash" in (report.reason or "")


async def test_a_checkpoint_older_than_the_retention_anchor_cannot_pass(database_url: str) -> None:
    clock = FakeClock()
    storage = SQLAuditStorage(database_url, clock=clock, chain_keys=KEYS)
    await storage.append_many([make_event("test.old")] * 4)
    old = await head_checkpoint(storage, KEYS)
    clock.advance(3600)
    await storage.append_many([make_event("test.new")] * 2)
    await storage.delete_before(clock.current)
    at_anchor = await head_checkpoint(MemoryAuditStorage(), KEYS)  # seq 0: before everything
    assert not (await verify_chain(storage, checkpoints=[at_anchor])).ok
    report = await verify_chain(storage, checkpoints=[old])  # old.seq == the anchor's seq
    assert report.ok and report.checkpoints == 1
    await storage.append(make_event("test.later"))
    clock.advance(3600)
    await storage.delete_before(clock.current)
    report = await verify_chain(storage, checkpoints=[old])
    assert not report.ok and "cannot be checked" in (report.reason or "")


# -- signatures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        lambda cp: dataclasses.replace(cp, seq=cp.seq - 1),
        lambda cp: dataclasses.replace(cp, hash="f" * 64),
        lambda cp: dataclasses.replace(cp, time="2020-01-01T00:00:00.000Z"),
        lambda cp: dataclasses.replace(cp, sig="0" * 64),
        lambda cp: sign_checkpoint(ChainKeys.from_secrets(OTHER), cp.seq, cp.hash, FakeClock()()),
    ],
    ids=["seq", "hash", "time", "sig", "other-secret"],
)
async def test_a_forged_checkpoint_is_refused(database_url: str, forge: Any) -> None:
    storage = SQLAuditStorage(database_url, chain_keys=KEYS)
    await storage.append_many([make_event("test.e")] * 3)
    genuine = await head_checkpoint(storage, KEYS)
    assert (await verify_chain(storage, checkpoints=[genuine])).ok
    report = await verify_chain(storage, checkpoints=[forge(genuine)])
    assert not report.ok and report.checkpoint and report.count == 0
    assert report.describe().startswith("CHECKPOINT seq ") and " refused: " in report.describe()


async def test_a_checkpoint_signed_under_a_previous_secret_verifies_after_rotation() -> None:
    storage = MemoryAuditStorage(chain_keys=ChainKeys.from_secrets(OTHER))
    await storage.append_many([make_event()] * 2)
    checkpoint = await head_checkpoint(storage, storage.chain_keys)
    rotated = ChainKeys.from_secrets(SECRET, [OTHER])
    assert (await verify_chain(storage, keys=rotated, checkpoints=[checkpoint])).ok
    assert not (await verify_chain(storage, keys=KEYS, checkpoints=[checkpoint])).ok


def test_checkpoint_lines_round_trip_and_garbage_is_a_clear_error() -> None:
    checkpoint = sign_checkpoint(KEYS, 7, "a" * 64, FakeClock()())
    line = checkpoint.to_json()
    assert list(Checkpoint.from_json(line).payload()) == ["seq", "hash", "time"]
    assert (
        parse_checkpoints(f"\n{line}\nINFO mastra.audit: {CHECKPOINT_LOG_PREFIX}{line}\n") == [checkpoint] * 2
    )
    for bad, message in [
        ("", "no checkpoint found"),
        ("hello", "line 1: not a checkpoint: no JSON object"),
        ('{"seq": 1}', "expected exactly the keys"),
        (line.replace('"seq":7', '"seq":true'), "seq must be a non-negative integer"),
        (line.replace("a" * 64, "A" * 64), "hash must be 64 lowercase hex"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_checkpoints(bad)
    with pytest.raises(ValueError, match="MASTRA_AUTH_SECRET"):
        sign_checkpoint(ChainKeys.from_secrets(None), 1, "a" * 64, FakeClock()())


# -- periodic checkpoints --------------------------------------------------------------


async def test_a_checkpoint_is_logged_to_mastra_audit_every_n_events(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mastra.audit")
    storage = SQLAuditStorage(database_url, chain_keys=KEYS, checkpoint_events=10, checkpoint_minutes=0)
    for i in range(9):
        await storage.append(make_event(f"test.e{i}"))
    assert _logged_checkpoints(caplog) == []
    await storage.append(make_event("test.tenth"))
    await storage.append_many([make_event("test.batch")] * 25)
    logged = _logged_checkpoints(caplog)
    assert [cp.seq for cp in logged] == [10, 35]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "mastra.audit")
    report = await verify_chain(storage, checkpoints=logged)
    assert report.ok and report.checkpoints == 2


async def test_a_checkpoint_is_logged_after_m_minutes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mastra.audit")
    clock = FakeClock()
    storage = MemoryAuditStorage(clock=clock, chain_keys=KEYS, checkpoint_events=0, checkpoint_minutes=5)
    await storage.append(make_event())
    clock.advance(4 * 60)
    await storage.append(make_event())
    assert _logged_checkpoints(caplog) == []
    clock.advance(60)
    await storage.append(make_event())
    [checkpoint] = _logged_checkpoints(caplog)
    assert checkpoint.seq == 3 and checkpoint.time == "2026-03-01T12:05:00.250Z"
    assert (await verify_chain(storage, checkpoints=[checkpoint])).ok


def test_checkpoint_options_come_from_the_provider_options(sqlite_url: str) -> None:
    from mastra.core.ee.settings import Settings

    settings = Settings(database_url=sqlite_url, auth_secret=SECRET)
    storage = SQLAuditStorage.from_options(
        ProviderOptions({"checkpoint_events": "250", "checkpoint_minutes": "0"}, settings)
    )
    ticker = storage.checkpoints
    assert ticker.enabled and ticker.every_events == 250 and ticker.every is None
    default = MemoryAuditStorage.from_options(ProviderOptions({}, settings)).checkpoints
    assert default.every_events == 1000 and default.every is not None and default.every.total_seconds() == 300
