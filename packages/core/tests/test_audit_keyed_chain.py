"""The keyed audit chain (SPEC S28): HMAC-SHA256 under a key derived from the server
secret, key ids for rotation, legacy rows, signed retention anchors. Storage tests run
on SQLite and PostgreSQL (``database_url``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import pytest
import rfc8785
from mastra.core.ee.audit import (
    ZERO_HASH,
    ChainKey,
    ChainKeys,
    MemoryAuditStorage,
    SQLAuditStorage,
    chain_table,
    compute_event_hash,
    events_table,
    verify_chain,
)
from mastra.core.ee.audit._options import UNKEYED_WARNING
from mastra.core.ee.db import dispose_engines, get_engine
from mastra.core.ee.models import AuditFilter
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings
from mastra.core.testing.audit import FakeClock, make_event
from sqlalchemy import delete, insert, inspect, text, update

OLD = "old-audit-secret-0123456789abcdefghijk"
NEW = "new-audit-secret-0123456789abcdefghijk"
KEYS = ChainKeys.from_secrets(NEW)


async def _kids(storage: SQLAuditStorage) -> list[str | None]:
    return [kid async for _, kid in storage.iter_chain()]


async def _rechain_unkeyed(url: str, from_seq: int, *, drop_kid: bool) -> None:
    """What someone with database write access but without the key can do: edit the
    event at ``from_seq`` and recompute a plain SHA-256 chain from it to the end."""
    events = [e async for e in SQLAuditStorage(url).iter_events(AuditFilter(), ascending=True)]
    prev = events[from_seq - 2].hash if from_seq > 1 else ZERO_HASH
    async with get_engine(url).begin() as conn:
        for event in events[from_seq - 1 :]:
            if event.seq == from_seq:
                event.action = "test.cover-up"
            event.prev_hash = prev
            event.hash = prev = compute_event_hash(event.to_json())
            values: dict[str, Any] = {
                "action": event.action,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
            if drop_kid:
                values["chain_kid"] = None
            await conn.execute(update(events_table).where(events_table.c.seq == event.seq).values(**values))


# -- hashing ---------------------------------------------------------------------------


def test_legacy_hash_is_still_plain_sha256_of_jcs_and_keyed_hash_is_hmac() -> None:
    # The reference computations, independent of the fast path: rows written before
    # keying must keep verifying, keyed rows must need the key.
    body: dict[str, Any] = {
        "id": "e1",
        "seq": 1,
        "action": "auth.sign-in",
        "metadata": {"n": 1.5},
        "prevHash": ZERO_HASH,
    }
    jcs = rfc8785.dumps(body)
    key = ChainKey.from_secret(NEW)
    assert compute_event_hash(body) == hashlib.sha256(jcs).hexdigest()
    assert compute_event_hash(body, key.chain) == hmac.new(key.chain, jcs, hashlib.sha256).hexdigest()
    assert compute_event_hash(body, key.chain) != compute_event_hash(body)


@pytest.mark.parametrize("key_length", [1, 32, 64, 65, 200])
def test_the_fast_hmac_matches_the_standard_library(key_length: int) -> None:
    import os

    from mastra.core.ee.audit._canonical import _digest

    for size in (0, 1, 63, 64, 65, 600, 5000):
        key, data = os.urandom(key_length), os.urandom(size)
        assert _digest(data, key) == hmac.new(key, data, hashlib.sha256).hexdigest()


def test_keys_are_derived_per_purpose_and_the_key_id_names_the_chain_key() -> None:
    key = ChainKey.from_secret(NEW)
    assert len({key.chain, key.anchor, key.checkpoint}) == 3
    assert all(len(k) == 32 for k in (key.chain, key.anchor, key.checkpoint))
    assert key.kid == hashlib.sha256(key.chain).hexdigest()[:8]
    assert ChainKey.from_secret(OLD).kid != key.kid
    assert NEW not in repr(key) and key.chain.hex() not in repr(ChainKeys.from_secrets(NEW, [OLD]))


# -- rewrites --------------------------------------------------------------------------


@pytest.mark.parametrize("drop_kid", [False, True], ids=["kid-kept", "kid-dropped"])
async def test_rewrite_with_a_recomputed_unkeyed_chain_is_detected_by_plain_verify(
    database_url: str, drop_kid: bool
) -> None:
    storage = SQLAuditStorage(database_url, chain_keys=KEYS)
    events = await storage.append_many([make_event(f"test.e{i}") for i in range(10)])
    assert (await verify_chain(storage)).ok
    await _rechain_unkeyed(database_url, 4, drop_kid=drop_kid)
    report = await verify_chain(storage)
    assert not report.ok and (report.broken_seq, report.broken_id, report.count) == (4, events[3].id, 3)
    expected = "unkeyed event after keyed events" if drop_kid else "hash mismatch"
    assert report.reason is not None and expected in report.reason


async def test_memory_storage_rewrite_with_an_unkeyed_hash_is_detected() -> None:
    storage = MemoryAuditStorage(chain_keys=KEYS)
    await storage.append_many([make_event(f"test.e{i}") for i in range(3)])
    stored = storage._events[1]
    stored.action = "test.cover-up"
    stored.hash = compute_event_hash(stored.to_json())
    storage._events[2].prev_hash = stored.hash
    storage._events[2].hash = compute_event_hash(storage._events[2].to_json())
    report = await verify_chain(storage)
    assert (report.ok, report.broken_seq) == (False, 2) and "hash mismatch" in (report.reason or "")


# -- rotation and legacy rows ----------------------------------------------------------


async def test_events_written_under_a_previous_secret_verify_after_rotation(database_url: str) -> None:
    before = SQLAuditStorage(database_url, chain_keys=ChainKeys.from_secrets(OLD))
    await before.append_many([make_event("test.old")] * 3)
    settings = Settings(database_url=database_url, auth_secret=NEW, auth_previous_secrets=[OLD])
    after = SQLAuditStorage.from_options(ProviderOptions({}, settings))
    await after.append_many([make_event("test.new")] * 2)
    old_kid, new_kid = ChainKey.from_secret(OLD).kid, ChainKey.from_secret(NEW).kid
    assert await _kids(after) == [old_kid] * 3 + [new_kid] * 2
    report = await verify_chain(after)
    assert report.ok and report.count == 5 and report.legacy == 0
    # Without the previous secret the old rows cannot be checked, and verify says why.
    forgotten = await verify_chain(after, keys=ChainKeys.from_secrets(NEW))
    assert (forgotten.ok, forgotten.broken_seq) == (False, 1)
    assert f"audit key id {old_kid}" in (forgotten.reason or "")
    assert "MASTRA_AUTH_PREVIOUS_SECRETS" in (forgotten.reason or "")


async def test_previous_secrets_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_AUTH_SECRET", NEW)
    monkeypatch.setenv("MASTRA_AUTH_PREVIOUS_SECRETS", f"{OLD}, third-secret-0123456789abcdefghijklm")
    keys = ChainKeys.from_settings(Settings())
    assert keys.current is not None and keys.current.kid == ChainKey.from_secret(NEW).kid
    assert set(keys.kids) == {
        ChainKey.from_secret(s).kid for s in (NEW, OLD, "third-secret-0123456789abcdefghijklm")
    }


async def _drop_added_columns(url: str) -> None:
    """Turn the tables back into the shape the code before keying created."""
    async with get_engine(url).begin() as conn:
        await conn.execute(text("ALTER TABLE mastra_audit_events DROP COLUMN chain_kid"))
        await conn.execute(text("ALTER TABLE mastra_audit_chain DROP COLUMN kid"))
        await conn.execute(text("ALTER TABLE mastra_audit_chain DROP COLUMN mac"))
    await dispose_engines()  # forget that the tables were created


async def test_legacy_rows_and_tables_from_before_keying_still_verify(database_url: str) -> None:
    clock = FakeClock()
    legacy = SQLAuditStorage(database_url, clock=clock)  # no secret: what the old code wrote
    old_events = []
    for i in range(5):
        old_events.append(await legacy.append(make_event(f"test.legacy{i}")))
        clock.advance(3600)
    assert all(e.hash == compute_event_hash(e.to_json()) for e in old_events)
    assert await legacy.delete_before(old_events[2].timestamp) == 2  # an unsigned anchor at seq 2
    await _drop_added_columns(database_url)

    keyed = SQLAuditStorage(database_url, clock=clock, chain_keys=KEYS)
    report = await verify_chain(keyed)  # first use adds the missing columns
    assert report.ok and report.count == 3 and report.legacy == 3
    async with get_engine(database_url).connect() as conn:
        columns = await conn.run_sync(
            lambda c: {x["name"] for x in inspect(c).get_columns("mastra_audit_events")}
        )
    assert "chain_kid" in columns
    new = await keyed.append_many([make_event("test.keyed")] * 2)
    assert new[0].prev_hash == old_events[-1].hash and new[0].hash != compute_event_hash(new[0].to_json())
    report = await verify_chain(keyed)
    assert report.ok and report.count == 5 and report.legacy == 3
    kid = KEYS.current.kid if KEYS.current else None
    assert await _kids(keyed) == [None, None, None, kid, kid]


async def test_a_legacy_anchor_with_no_events_after_it_is_signed_by_the_first_keyed_append(
    database_url: str,
) -> None:
    clock = FakeClock()
    legacy = SQLAuditStorage(database_url, clock=clock)
    await legacy.append_many([make_event("test.legacy")] * 3)
    clock.advance(3600)
    assert await legacy.delete_before(clock.current) == 3
    assert set(await legacy.chain_anchor() or {}) == {"seq", "hash"}  # unsigned
    keyed = SQLAuditStorage(database_url, clock=clock, chain_keys=KEYS)
    await keyed.append(make_event("test.keyed"))
    anchor = await keyed.chain_anchor()
    assert anchor is not None and anchor["kid"] == KEYS.current.kid  # type: ignore[union-attr]
    report = await verify_chain(keyed)
    assert report.ok and report.count == 1


# -- the retention anchor --------------------------------------------------------------


@pytest.mark.parametrize("mac", [None, "0" * 64], ids=["unsigned", "forged-mac"])
async def test_deleting_the_oldest_events_behind_a_fake_anchor_is_detected(
    database_url: str, mac: str | None
) -> None:
    storage = SQLAuditStorage(database_url, chain_keys=KEYS)
    events = await storage.append_many([make_event(f"test.e{i}") for i in range(6)])
    async with get_engine(database_url).begin() as conn:
        await conn.execute(delete(events_table).where(events_table.c.seq <= 3))
        await conn.execute(
            insert(chain_table).values(
                name="anchor",
                seq=3,
                hash=events[2].hash,
                updated_at=events[2].timestamp,
                kid=KEYS.current.kid if mac else None,  # type: ignore[union-attr]
                mac=mac,
            )
        )
    report = await verify_chain(storage)
    assert not report.ok
    if mac is None:
        assert report.broken_seq == 4 and "anchor in front of this keyed event is not signed" in (
            report.reason or ""
        )
    else:
        assert report.broken_seq == 3 and "anchor's signature does not verify" in (report.reason or "")


async def test_retention_signs_its_anchor(database_url: str) -> None:
    clock = FakeClock()
    storage = SQLAuditStorage(database_url, clock=clock, chain_keys=KEYS)
    await storage.append_many([make_event("test.old")] * 3)
    clock.advance(3600)
    await storage.append(make_event("test.new"))
    assert await storage.delete_before(clock.current) == 3
    anchor = await storage.chain_anchor()
    assert anchor is not None and anchor["kid"] == KEYS.current.kid  # type: ignore[union-attr]
    assert KEYS.anchor_ok(anchor) is True
    assert (await verify_chain(storage)).ok
    assert (await verify_chain(storage, keys=ChainKeys.from_secrets(OLD))).ok is False


# -- no secret -------------------------------------------------------------------------


async def test_without_a_secret_the_chain_is_unkeyed_and_a_warning_says_so(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("MASTRA_AUTH_SECRET", raising=False)
    caplog.set_level(logging.INFO)
    settings = Settings(database_url=sqlite_url)
    storage = SQLAuditStorage.from_options(ProviderOptions({"checkpoint_events": 1}, settings))
    assert UNKEYED_WARNING in [r.getMessage() for r in caplog.records if r.name == "mastra.ee.audit"]
    event = await storage.append(make_event())
    assert event.hash == compute_event_hash(event.to_json())
    assert await _kids(storage) == [None]
    assert not [r for r in caplog.records if r.name == "mastra.audit"]  # nothing to sign with
    report = await verify_chain(storage)
    assert report.ok and report.legacy == 1
