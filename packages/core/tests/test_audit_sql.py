"""SQL audit storage specifics: schema, cross-process serialisation, corruption,
retention and query plans. Runs on SQLite and PostgreSQL where it applies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, inspect, text, update

from mastra.core.ee.audit import AuditCorruptionError, SQLAuditStorage, events_table, verify_chain
from mastra.core.ee.audit._sqlfilters import filter_conditions
from mastra.core.ee.db import get_engine
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.models import AuditFilter, Pagination
from mastra.core.ee.testing.audit import FakeClock, make_event


async def _sql(url: str, statement: Any) -> None:
    async with get_engine(url).begin() as conn:
        await conn.execute(statement)


async def test_schema_has_an_index_for_every_filter(database_url: str) -> None:
    storage = SQLAuditStorage(database_url)
    await storage.append(make_event())

    def read(sync_conn: Any) -> tuple[set[str], dict[str, list[str]], set[str]]:
        insp = inspect(sync_conn)
        columns = {c["name"] for c in insp.get_columns("mastra_audit_events")}
        indexes = {i["name"]: i["column_names"] for i in insp.get_indexes("mastra_audit_events")}
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("mastra_audit_events")}
        uniques |= {tuple(cols) for name, cols in indexes.items() if name and "seq" in cols and len(cols) == 1}
        return columns, indexes, {c for u in uniques for c in u}

    async with get_engine(database_url).connect() as conn:
        columns, indexes, unique_columns = await conn.run_sync(read)
        chain_columns = await conn.run_sync(lambda c: {x["name"] for x in inspect(c).get_columns("mastra_audit_chain")})
    assert columns == {
        "id", "seq", "timestamp", "actor_type", "actor_id", "actor_email", "actor_ip", "actor_user_agent",
        "actor_organization_id", "action", "resource_type", "resource_id", "resource_name", "outcome",
        "metadata", "duration", "prev_hash", "hash",
    }
    leading = {tuple(cols[:2]) if cols[0] == "resource_type" else cols[0] for cols in indexes.values()}
    assert {"actor_id", "actor_type", "action", ("resource_type", "resource_id"), "outcome", "timestamp"} <= leading
    assert "seq" in unique_columns
    assert {"seq", "hash"} <= chain_columns


async def test_two_writers_with_separate_locks_stay_gap_free(database_url: str) -> None:
    # Separate instances share no in-process lock: only the database lock orders them.
    a, b = SQLAuditStorage(database_url), SQLAuditStorage(database_url)
    await a.append(make_event())  # create the tables before the race
    await asyncio.gather(*(s.append(make_event(f"test.{i}")) for i in range(60) for s in (a, b)))
    report = await verify_chain(a)
    assert report.ok and report.count == 121


@pytest.mark.slow
async def test_several_processes_append_one_gap_free_chain(database_url: str) -> None:
    await SQLAuditStorage(database_url).append(make_event("test.setup"))
    script = textwrap.dedent(
        """
        import asyncio, sys
        from mastra.core.ee.audit import SQLAuditStorage
        from mastra.core.ee.db import dispose_engines
        from mastra.core.ee.testing.audit import make_event

        async def main(url, tag):
            storage = SQLAuditStorage(url)
            await asyncio.gather(*(storage.append(make_event(f"test.{tag}")) for _ in range(20)))
            for i in range(5):
                await storage.append_many([make_event(f"test.{tag}")] * 4)
            await dispose_engines()

        asyncio.run(main(sys.argv[1], sys.argv[2]))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, database_url, f"p{i}"], env=dict(os.environ))
        for i in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    storage = SQLAuditStorage(database_url)
    report = await verify_chain(storage)
    assert report.ok and report.count == 1 + 3 * 40
    page = await storage.list(AuditFilter(action="test.p1"), Pagination(per_page=1))
    assert page.pagination.total == 40


async def test_corrupt_metadata_is_a_clear_error_and_verify_names_the_row(database_url: str) -> None:
    storage = SQLAuditStorage(database_url)
    events = await storage.append_many([make_event(f"test.e{i}") for i in range(4)])
    await _sql(database_url, update(events_table).where(events_table.c.seq == 3).values(metadata="{not json"))
    with pytest.raises(AuditCorruptionError, match=r"seq 3, id .*: metadata is not valid JSON") as info:
        await storage.get(events[2].id)
    assert info.value.seq == 3 and info.value.event_id == events[2].id
    with pytest.raises(AuditCorruptionError):
        await storage.list(AuditFilter(), Pagination())
    report = await verify_chain(storage)
    assert (report.ok, report.count, report.broken_seq, report.broken_id) == (False, 2, 3, events[2].id)
    assert report.describe() == f"BROKEN at seq 3 (id {events[2].id}): metadata is not valid JSON"


async def test_invalid_stored_values_are_reported(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    events = await storage.append_many([make_event(), make_event()])
    await _sql(sqlite_url, update(events_table).where(events_table.c.seq == 2).values(outcome="exploded"))
    await _sql(sqlite_url, text("UPDATE mastra_audit_events SET metadata = '[1]' WHERE seq = 1"))
    with pytest.raises(AuditCorruptionError, match="metadata is not a JSON object"):
        await storage.get(events[0].id)
    await _sql(sqlite_url, text("UPDATE mastra_audit_events SET metadata = '{}' WHERE seq = 1"))
    with pytest.raises(AuditCorruptionError, match=r"invalid stored value \(outcome\)"):
        await storage.get(events[1].id)
    report = await verify_chain(storage)
    # Seq 1 got its original metadata back, so the first bad row is seq 2.
    assert (report.ok, report.count, report.broken_seq) == (False, 1, 2)
    assert report.reason == "invalid stored value (outcome)"


async def test_verify_reports_gaps_and_broken_links(database_url: str) -> None:
    storage = SQLAuditStorage(database_url)
    events = await storage.append_many([make_event(f"test.e{i}") for i in range(6)])
    await _sql(database_url, update(events_table).where(events_table.c.seq == 5).values(prev_hash="a" * 64))
    report = await verify_chain(storage)
    assert (report.broken_seq, report.reason) == (5, "prevHash does not match the previous event's hash")
    await _sql(database_url, delete(events_table).where(events_table.c.seq == 3))
    report = await verify_chain(storage)
    assert (report.broken_seq, report.broken_id, report.count) == (4, events[3].id, 2)
    assert report.reason == "seq gap: expected 3, found 4"


async def test_rewriting_the_hash_too_is_still_detected(sqlite_url: str) -> None:
    # An attacker who edits a row and recomputes its hash breaks the next link instead.
    from mastra.core.ee.audit import compute_event_hash

    storage = SQLAuditStorage(sqlite_url)
    await storage.append_many([make_event(f"test.e{i}") for i in range(3)])
    edited = (await storage.list(AuditFilter(action="test.e1"), Pagination())).events[0]
    edited.action = "test.cover-up"
    new_hash = compute_event_hash(edited.to_json())
    await _sql(
        sqlite_url,
        update(events_table).where(events_table.c.seq == 2).values(action="test.cover-up", hash=new_hash),
    )
    report = await verify_chain(storage)
    assert report.broken_seq == 3 and "prevHash" in (report.reason or "")


async def test_retention_purges_at_first_use(sqlite_url: str) -> None:
    clock = FakeClock()
    writer = SQLAuditStorage(sqlite_url, clock=clock)
    old = await writer.append_many([make_event("test.old")] * 3)
    clock.advance(2 * 86400)
    await writer.append(make_event("test.new"))
    storage = SQLAuditStorage(sqlite_url, retention_days=1, clock=clock)
    page = await storage.list(AuditFilter(), Pagination())  # first use starts the purge task
    assert storage.retention.first_run is not None
    await asyncio.wait_for(storage.retention.first_run.wait(), 10)
    page = await storage.list(AuditFilter(), Pagination())
    assert [e.action for e in page.events] == ["test.new"]
    assert await storage.chain_anchor() == {"seq": 3, "hash": old[-1].hash}
    assert (await verify_chain(storage)).ok
    await storage.aclose()
    assert storage.retention._task is None


async def test_retention_option_zero_keeps_everything(sqlite_url: str) -> None:
    clock = FakeClock()
    storage = SQLAuditStorage(sqlite_url, retention_days=0, clock=clock)
    await storage.append(make_event())
    clock.advance(10 * 365 * 86400)
    await storage.list(AuditFilter(), Pagination())
    assert storage.retention._task is None
    assert (await storage.list(AuditFilter(), Pagination())).pagination.total == 1


async def test_wildcard_and_prefix_filters_use_the_action_index(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    await storage.append(make_event())
    engine = get_engine(sqlite_url)
    for audit_filter in (AuditFilter(action="auth.*"), AuditFilter(action_prefix="auth.")):
        query = events_table.select().where(*filter_conditions(audit_filter, sqlite=True))
        compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
        async with engine.connect() as conn:
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")).all()
        assert any("ix_mastra_audit_events_action" in str(row) for row in plan), plan


async def test_stats_on_sql_buckets_by_utc_hour_over_days(database_url: str) -> None:
    clock = FakeClock()
    storage = SQLAuditStorage(database_url, clock=clock)
    start = clock.current
    for _ in range(30):
        await storage.append(make_event(outcome="failure"))
        clock.advance(3 * 3600)
    buckets = await storage.stats(AuditFilter(start_date=start, end_date=start + timedelta(hours=23)))
    assert len(buckets) == 24 and sum(b["failure"] for b in buckets) == 8
    assert all(b["start"].endswith(":00:00.000Z") for b in buckets)


def test_from_options_requires_a_url() -> None:
    with pytest.raises(ConfigurationError, match="MASTRA_DATABASE_URL"):
        SQLAuditStorage.from_options({})
    storage = SQLAuditStorage.from_options({"database_url": "sqlite+aiosqlite:///x.db"})
    assert storage.writer is None and storage.retention.retention_days == 0
