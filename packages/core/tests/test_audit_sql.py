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
from mastra.core.ee.audit import AuditCorruptionError, SQLAuditStorage, events_table, verify_chain
from mastra.core.ee.audit._sqlfilters import filter_conditions
from mastra.core.ee.db import get_engine, own_sqlite_file
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.models import AuditFilter, Pagination
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings
from mastra.core.testing.audit import FakeClock, make_event
from sqlalchemy import delete, inspect, text, update


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
        uniques |= {
            tuple(cols) for name, cols in indexes.items() if name and "seq" in cols and len(cols) == 1
        }
        return columns, indexes, {c for u in uniques for c in u}

    async with get_engine(database_url).connect() as conn:
        columns, indexes, unique_columns = await conn.run_sync(read)
        chain_columns = await conn.run_sync(
            lambda c: {x["name"] for x in inspect(c).get_columns("mastra_audit_chain")}
        )
    assert columns == {
        "id",
        "seq",
        "timestamp",
        "actor_type",
        "actor_id",
        "actor_email",
        "actor_ip",
        "actor_user_agent",
        "actor_organization_id",
        "action",
        "resource_type",
        "resource_id",
        "resource_name",
        "outcome",
        "metadata",
        "duration",
        "prev_hash",
        "hash",
        "chain_kid",
    }
    leading = {tuple(cols[:2]) if cols[0] == "resource_type" else cols[0] for cols in indexes.values()}
    assert {
        "actor_id",
        "actor_type",
        "action",
        ("resource_type", "resource_id"),
        "outcome",
        "timestamp",
    } <= leading
    assert "seq" in unique_columns
    assert {"seq", "hash", "kid", "mac"} <= chain_columns


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
        from mastra.core.testing.audit import make_event

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
        SQLAuditStorage.from_options(ProviderOptions({}, Settings(database_url="", _env_file=None)))
    storage = SQLAuditStorage.from_options({"database_url": "sqlite+aiosqlite:///x.db"})
    assert storage.durability == "auth" and storage.retention.retention_days == 0


# -- hourly counts: totals and stats must equal a direct count -------------------------


async def _twin_storages(database_url: str) -> tuple[Any, SQLAuditStorage, FakeClock]:
    import random

    from mastra.core.ee.audit import MemoryAuditStorage

    clock = FakeClock()
    memory, sql = MemoryAuditStorage(clock=clock), SQLAuditStorage(database_url, clock=clock)
    rng = random.Random(7)
    actions = ["auth.sign-in", "auth.logout", "authz.denied", "acl.grant", "users.disable"]
    for _ in range(40):
        batch = [
            make_event(
                rng.choice(actions),
                outcome=rng.choice(["success", "failure", "denied"]),
                actor_type=rng.choice(["user", "system", "apikey"]),
                actor_id=f"u{rng.randrange(5)}",
            )
            for _ in range(rng.randrange(1, 6))
        ]
        await memory.append_many(batch)
        await sql.append_many(batch)
        clock.advance(rng.randrange(60, 5400))
    return memory, sql, clock


def _random_filters(start: Any, end: Any) -> list[AuditFilter]:
    import random

    rng = random.Random(11)
    span = (end - start).total_seconds()
    filters = [AuditFilter()]
    for _ in range(60):
        a = start + timedelta(seconds=rng.uniform(-600, span + 600), microseconds=rng.randrange(1000))
        b = a + timedelta(seconds=rng.choice([0, 0.0005, 30, 3599.999, 3600, 7200, rng.uniform(0, span)]))
        options: dict[str, Any] = {
            "start_date": rng.choice([None, a, a.replace(minute=0, second=0, microsecond=0)]),
            "end_date": rng.choice([None, b, b.replace(minute=59, second=59, microsecond=999000)]),
            "outcome": rng.choice([None, "success", "denied"]),
            "actor_type": rng.choice([None, None, "system"]),
            "action": rng.choice([None, "auth.*", ["acl.grant", "users.disable"], "authz.denied"]),
            "action_prefix": rng.choice([None, None, "auth"]),
            "actor_id": rng.choice([None, None, None, "u2"]),  # leaves the counts path
        }
        filters.append(AuditFilter(**options))
    return filters


async def test_totals_and_stats_match_a_direct_count(database_url: str) -> None:
    memory, sql, clock = await _twin_storages(database_url)
    first = (await memory.list(AuditFilter(), Pagination(per_page=None))).events[-1].timestamp
    for audit_filter in _random_filters(first, clock.current):
        expected = await memory.list(audit_filter, Pagination(per_page=5))
        actual = await sql.list(audit_filter, Pagination(per_page=5))
        assert actual.pagination == expected.pagination, audit_filter
        assert [e.seq for e in actual.events] == [e.seq for e in expected.events], audit_filter
        assert await sql.stats(audit_filter) == await memory.stats(audit_filter), audit_filter
        streamed = [e.seq async for e in sql.iter_events(audit_filter)]
        assert streamed == [e.seq async for e in memory.iter_events(audit_filter)], audit_filter


async def test_counts_follow_retention_and_are_rebuilt_when_missing(sqlite_url: str) -> None:
    from mastra.core.ee.audit._schema import counts_table

    memory, sql, clock = await _twin_storages(sqlite_url)
    cutoff = clock.current - timedelta(hours=20)
    assert await sql.delete_before(cutoff) == await memory.delete_before(cutoff) > 0
    for audit_filter in (AuditFilter(), AuditFilter(outcome="failure"), AuditFilter(action="auth.*")):
        assert (await sql.list(audit_filter, Pagination())).pagination == (
            await memory.list(audit_filter, Pagination())
        ).pagination
        assert await sql.stats(audit_filter) == await memory.stats(audit_filter)
    await _sql(sqlite_url, delete(counts_table))  # e.g. a database from before the counts table
    fresh = SQLAuditStorage(sqlite_url)
    assert await fresh.stats(AuditFilter(outcome="denied")) == await memory.stats(
        AuditFilter(outcome="denied")
    )
    page = await fresh.list(AuditFilter(actor_type="system"), Pagination())
    assert page.pagination == (await memory.list(AuditFilter(actor_type="system"), Pagination())).pagination


async def test_broad_filters_walk_the_seq_index_on_sqlite(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    await storage.append_many([make_event("auth.sign-in" if i % 2 else "acl.grant") for i in range(200)])
    engine = get_engine(sqlite_url)
    audit_filter = AuditFilter(action="auth.*", outcome="success")
    async with engine.connect() as conn:
        broad = storage._plan(conn, audit_filter, 100, 200, rows_needed=50).order_by(
            events_table.c.seq.desc()
        )
        narrow = storage._plan(conn, audit_filter, 1, 1_000_000, rows_needed=50).order_by(
            events_table.c.seq.desc()
        )
        plans = []
        for query in (broad, narrow):
            sql = str(query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
            plans.append(
                " ".join(str(r) for r in (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all())
            )
    assert "+mastra_audit_events.action" in str(broad.compile(engine.sync_engine))
    assert "ix_mastra_audit_events_seq" in plans[0] and "TEMP B-TREE" not in plans[0]
    assert "ix_mastra_audit_events_seq" not in plans[1]
    page = await storage.list(AuditFilter(action="auth.sign-in"), Pagination(per_page=3))
    assert [e.seq for e in page.events] == [200, 198, 196] and page.pagination.total == 100


async def test_an_unreadable_timestamp_is_a_clear_error(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url)
    events = await storage.append_many([make_event(), make_event(), make_event()])
    await _sql(sqlite_url, text("UPDATE mastra_audit_events SET timestamp = 'yesterday-ish' WHERE seq = 2"))
    with pytest.raises(AuditCorruptionError, match=r"seq 2, id .*a stored value cannot be read"):
        await storage.list(AuditFilter(), Pagination())
    report = await verify_chain(storage)
    assert (report.ok, report.broken_seq, report.broken_id) == (False, 2, events[1].id)
    assert (
        report.describe()
        == f"BROKEN at seq 2 (id {events[1].id}): a stored value cannot be read (ValueError)"
    )


def test_fast_insert_names_every_column_once() -> None:
    from mastra.core.ee.audit._sqlwrite import COLUMNS

    assert sorted(COLUMNS) == sorted(c.name for c in events_table.columns)


async def test_large_append_many_is_pipelined_in_one_chain(database_url: str) -> None:
    from mastra.core.ee.audit._sqlwrite import PIPELINE_CHUNK

    storage = SQLAuditStorage(database_url)
    n = PIPELINE_CHUNK * 3 + 7
    events = await storage.append_many([make_event(f"test.e{i}", metadata={"i": i}) for i in range(n)])
    assert [e.seq for e in events] == list(range(1, n + 1))
    assert len({e.timestamp for e in events}) == 1  # one append, one timestamp
    report = await verify_chain(storage)
    assert report.ok and report.count == n
    assert (await storage.list(AuditFilter(action="test.e700"), Pagination())).events[0].metadata == {
        "i": 700
    }


async def test_sql_wildcards_agree_with_the_glob_matcher(database_url: str) -> None:
    import random

    from mastra.core.ee.audit import glob_match

    rng = random.Random(5)
    alphabet = "ab.%_\\[]?*A"
    actions = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 7))) for _ in range(60)})
    storage = SQLAuditStorage(database_url)
    await storage.append_many([make_event(action) for action in actions])
    for _ in range(150):
        pattern = "".join(rng.choice(alphabet + "**") for _ in range(rng.randrange(1, 6)))
        if pattern.count("*") > 8:
            continue
        expected = (
            sorted(a for a in actions if glob_match(pattern, a))
            if "*" in pattern
            else [a for a in actions if a == pattern]
        )
        page = await storage.list(AuditFilter(action=pattern), Pagination(per_page=None))
        assert sorted(e.action for e in page.events) == expected, pattern
        prefix = pattern.replace("*", "")[:2]
        page = await storage.list(AuditFilter(action_prefix=prefix), Pagination(per_page=None))
        assert sorted(e.action for e in page.events) == sorted(a for a in actions if a.startswith(prefix)), (
            prefix
        )


async def test_counts_upsert_is_one_statement_whatever_the_batch(database_url: str) -> None:
    # A multi-row ``insert().values(...)`` was compiled anew for every append (a new text
    # per number of keys), costing more than the rest of a 200-event append.
    from sqlalchemy import event

    storage = SQLAuditStorage(database_url)
    await storage.append(make_event())
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool) -> None:
        if "mastra_audit_counts" in statement and statement.lstrip().upper().startswith("INSERT"):
            seen.append((statement, many))

    sync_engine = get_engine(database_url).sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        for keys in (1, 3, 7):
            await storage.append_many([make_event(f"test.k{i % keys}") for i in range(20)])
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    if own_sqlite_file(database_url) is None:
        assert len(seen) == 3 and len({statement for statement, _ in seen}) == 1, seen
        assert all(many for _, many in seen[1:]), seen  # one row per key, one statement
    else:  # a SQLite file appends on its own connection, with the module's one text
        assert seen == []
    page = await storage.list(AuditFilter(action="test.k0"), Pagination(per_page=1))
    assert page.pagination.total == 20 + 7 + 3  # the counts answer: 20, 7 and 3 events


async def test_appended_events_equal_their_validated_form(database_url: str) -> None:
    # ``SealedEvent.event`` builds the model without validation: it must be the same model.
    from mastra.core.ee.models import AuditEvent

    storage = SQLAuditStorage(database_url)
    inputs = [
        make_event(metadata={"n": 1, "nested": {"a": [1, "b"]}}, duration=5, resource=("agent", "a1")),
        make_event("acl.grant"),
    ]
    for stored in await storage.append_many(inputs):
        validated = AuditEvent.model_validate(stored.model_dump())
        assert stored == validated
        assert stored.model_fields_set == validated.model_fields_set
        assert stored.to_json() == validated.to_json() == (await storage.get(stored.id)).to_json()  # type: ignore[union-attr]
        assert stored.model_copy(update={"action": "x"}).action == "x" and stored.action != "x"
