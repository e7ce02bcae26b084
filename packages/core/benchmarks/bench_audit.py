"""Audit storage benchmark: chained ingest throughput through ``emit`` per durability
mode (SQLite and PostgreSQL, ``append_many`` as the baseline) and filtered-query
latency (SQLite).

    uv run python packages/core/benchmarks/bench_audit.py

Environment:

* ``BENCH_AUDIT_INGEST`` — events per ingest case and round (default 100,000);
* ``BENCH_AUDIT_ROUNDS`` — ingest rounds, the median is reported (default 3);
* ``BENCH_AUDIT_POSTGRES`` — ``0`` skips the PostgreSQL ingest (started by
  ``mastra.core.testing.postgres.start_postgres``);
* ``BENCH_AUDIT_EVENTS`` — size of the query data set (default 1,000,000; 0 skips
  the queries);
* ``BENCH_AUDIT_REPEAT`` — runs per query (default 40);
* ``BENCH_AUDIT_DB`` — reuse this SQLite file for the query set (built if missing);
* ``BENCH_AUDIT_KEYED`` — ``1`` (default) chains with HMAC-SHA256 under a key derived
  from a secret and logs a signed checkpoint every 1,000 events, as a server with
  ``MASTRA_AUTH_SECRET`` does (SPEC S28); ``0`` measures the legacy unkeyed chain.

Targets: ingest through ``emit`` >= 30,000 events/s (issue #14) with nothing lost
(count and ``verify_chain`` after every round); filtered ``list`` p95 < 50 ms over 1,000,000 events.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mastra.core.ee.audit import ChainKeys, Durability, SQLAuditStorage, emit, verify_chain
from mastra.core.ee.db import dispose_engines
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditFilter, AuditResource, Pagination
from mastra.core.ee.provider import MastraAuthProvider, with_ee

INGEST = int(os.environ.get("BENCH_AUDIT_INGEST", "100000"))
ROUNDS = int(os.environ.get("BENCH_AUDIT_ROUNDS", "3"))
POSTGRES = os.environ.get("BENCH_AUDIT_POSTGRES", "1") != "0"
EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", "1000000"))
REPEAT = int(os.environ.get("BENCH_AUDIT_REPEAT", "40"))
KEYED = os.environ.get("BENCH_AUDIT_KEYED", "1") != "0"
KEYS = ChainKeys.from_secrets("bench-audit-secret-0123456789abcdefghij" if KEYED else None)
ACTIONS = [
    "auth.sign-in",
    "auth.sign-up",
    "auth.logout",
    "auth.refresh",
    "auth.sso-callback",
    "auth.password-reset",
    "auth.session-revoke",
    "authz.denied",
    "acl.grant",
    "acl.revoke",
    "users.role-change",
    "users.disable",
]
OUTCOMES = ["success"] * 8 + ["failure", "denied"]
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)


class StepClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current


def event(i: int) -> AuditEventInput:
    user = f"user_{i % 1000:04d}"
    return AuditEventInput(
        actor=AuditActor(
            type="system" if i % 50 == 0 else "user",
            id=user,
            email=f"{user}@example.com",
            ip=f"10.0.{i % 256}.{(i // 256) % 256}",
            user_agent="bench/1.0",
        ),
        action=ACTIONS[i % len(ACTIONS)],
        outcome=OUTCOMES[(i // 7) % len(OUTCOMES)],  # type: ignore[arg-type]
        resource=AuditResource(type="agent", id=f"agent_{i % 200}") if i % 3 == 0 else None,
        metadata={"method": "password", "attempt": i % 5},
        duration=i % 250,
    )


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _remove_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


#: Emit-path cases: (label, durability, event actions). ``auth`` waits for the commit of
#: ``auth.*`` events only, ``sync`` for every event, ``buffered`` for none.
EMIT_CASES: list[tuple[str, Durability, str | None]] = [
    ("auth, auth.* events (waited)", "auth", "auth.sign-in"),
    ("auth, other events (queued)", "auth", "users.role-change"),
    ("sync, mixed events (waited)", "sync", None),
    ("buffered, mixed events", "buffered", None),
]


async def emit_rate(
    url: str, durability: Durability, action: str | None, inputs: list[AuditEventInput]
) -> float:
    """Events/s through ``emit`` from 200 concurrent producers (as many requests), the
    last commit included; then count and ``verify_chain``."""
    storage = SQLAuditStorage(
        url, durability=durability, batch_size=2000, flush_interval=0.005, chain_keys=KEYS
    )
    auth = with_ee(MastraAuthProvider(), audit_storage=storage)
    if action is not None:
        inputs = [item.model_copy(update={"action": action}) for item in inputs]
    await storage.append(event(-1))  # tables created outside the timing
    producers = 200

    async def produce(k: int) -> None:
        for item in inputs[k::producers]:
            await emit(auth, item)

    started = time.perf_counter()
    await asyncio.gather(*(produce(k) for k in range(producers)))
    await storage.aclose()  # flush: timing includes the commit of the last event
    rate = len(inputs) / (time.perf_counter() - started)
    report = await verify_chain(storage)
    total = (await storage.list(AuditFilter(), Pagination(per_page=1))).pagination.total
    assert report.ok and report.count == len(inputs) + 1 == total, (report, total)
    return rate


async def append_many_rate(url: str, inputs: list[AuditEventInput]) -> float:
    storage = SQLAuditStorage(url, chain_keys=KEYS)
    await storage.append(event(-1))
    started = time.perf_counter()
    for offset in range(0, len(inputs), 2000):
        await storage.append_many(inputs[offset : offset + 2000], return_events=False)
    rate = len(inputs) / (time.perf_counter() - started)
    report = await verify_chain(storage)
    assert report.ok and report.count == len(inputs) + 1, report
    return rate


async def ingest_round(fresh_url: Callable[[str], str], n: int) -> dict[str, float]:
    """Events/s per emit case and for ``append_many``, each on a fresh database."""
    inputs = [event(i) for i in range(n)]
    rates = {"append_many (baseline)": await append_many_rate(fresh_url("batch"), inputs)}
    for label, durability, action in EMIT_CASES:
        rates[label] = await emit_rate(fresh_url(label), durability, action, inputs)
    await dispose_engines()
    return rates


async def ingest_bench(database: str, fresh_url: Callable[[str], str]) -> None:
    chain = "keyed (HMAC-SHA256, checkpoints)" if KEYED else "unkeyed (SHA-256)"
    print(f"ingest on {database}: {INGEST:,} events per round, {chain}; load {os.getloadavg()[0]:.1f}")
    rounds = [await ingest_round(fresh_url, INGEST) for _ in range(ROUNDS)]
    baseline = statistics.median(r["append_many (baseline)"] for r in rounds)
    for label in rounds[0]:
        rate = statistics.median(r[label] for r in rounds)
        print(f"  {label:<30} {rate:9,.0f} ev/s  ({rate / baseline:4.2f} x append_many)")


def sqlite_urls(path: Path) -> Callable[[str], str]:
    counter = iter(range(1_000_000))

    def fresh(_label: str) -> str:
        db = path / f"ingest-{next(counter)}.db"
        _remove_db(db)
        return f"sqlite+aiosqlite:///{db}"

    return fresh


def postgres_urls(server: Any) -> Callable[[str], str]:
    counter = iter(range(1_000_000))
    return lambda _label: server.create_database(f"ingest_{next(counter)}")


async def build_query_set(db: Path, n: int) -> SQLAuditStorage:
    url = f"sqlite+aiosqlite:///{db}"
    clock = StepClock(START)
    storage = SQLAuditStorage(url, clock=clock, chain_keys=KEYS)
    existing = (await storage.list(AuditFilter(), Pagination(per_page=1))).pagination.total
    if existing >= n:
        print(f"query set: reusing {existing:,} events in {db}")
        return storage
    if existing:
        raise SystemExit(f"{db} holds {existing:,} events, fewer than {n:,}; delete it first")
    batch = 5000
    step = SPAN / max(1, n // batch)
    started = time.perf_counter()
    for offset in range(0, n, batch):
        clock.current = START + step * (offset // batch)
        await storage.append_many(
            [event(i) for i in range(offset, min(n, offset + batch))], return_events=False
        )
    elapsed = time.perf_counter() - started
    print(f"query set: built {n:,} events in {elapsed:.1f}s ({n / elapsed:,.0f}/s)")
    return storage


async def time_query(run: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    await run()  # warm the page cache and the statement cache
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 95)


async def query_bench(storage: SQLAuditStorage) -> list[tuple[str, float, float]]:
    end = START + SPAN
    page = Pagination(page=0, per_page=50)
    cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("no filter, page 0", lambda: storage.list(AuditFilter(), page)),
        ("actor_id", lambda: storage.list(AuditFilter(actor_id="user_0042"), page)),
        ("actor_type=system", lambda: storage.list(AuditFilter(actor_type="system"), page)),
        ("action exact", lambda: storage.list(AuditFilter(action="auth.sign-in"), page)),
        ("action any-of (2)", lambda: storage.list(AuditFilter(action=["acl.grant", "acl.revoke"]), page)),
        ("action wildcard auth.*", lambda: storage.list(AuditFilter(action="auth.*"), page)),
        ("action wildcard *.sign-in", lambda: storage.list(AuditFilter(action="*.sign-in"), page)),
        ("action_prefix authz.", lambda: storage.list(AuditFilter(action_prefix="authz."), page)),
        ("outcome=denied", lambda: storage.list(AuditFilter(outcome="denied"), page)),
        (
            "resource type+id",
            lambda: storage.list(AuditFilter(resource_type="agent", resource_id="agent_7"), page),
        ),
        (
            "last 24h",
            lambda: storage.list(AuditFilter(start_date=end - timedelta(days=1), end_date=end), page),
        ),
        (
            "user+failure+7d",
            lambda: storage.list(
                AuditFilter(actor_type="user", outcome="failure", start_date=end - timedelta(days=7)), page
            ),
        ),
        (
            "actor_id page 10",
            lambda: storage.list(AuditFilter(actor_id="user_0042"), Pagination(page=10, per_page=50)),
        ),
        (
            "studio page 25 rows",
            lambda: storage.list(AuditFilter(action_prefix="auth."), Pagination(per_page=25)),
        ),
        (
            "stats last 24h",
            lambda: storage.stats(AuditFilter(start_date=end - timedelta(days=1), end_date=end)),
        ),
    ]
    results = []
    for name, run in cases:
        p50, p95 = await time_query(run)
        results.append((name, p50, p95))
        print(f"  {name:<28} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    return results


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        await ingest_bench("SQLite", sqlite_urls(path))
        if POSTGRES:
            from mastra.core.testing.postgres import start_postgres

            server = start_postgres()
            try:
                await ingest_bench("PostgreSQL", postgres_urls(server))
                await dispose_engines()
            finally:
                server.stop()
        if EVENTS == 0:
            return 0

        db = Path(os.environ["BENCH_AUDIT_DB"]) if os.environ.get("BENCH_AUDIT_DB") else path / "query.db"
        storage = await build_query_set(db, EVENTS)
        print(f"queries over {EVENTS:,} events, {REPEAT} runs each; load {os.getloadavg()[0]:.1f}")
        results = await query_bench(storage)
        worst = max(p95 for _, _, p95 in results)
        median_p50 = statistics.median(p50 for _, p50, _ in results)
        print(f"query summary: median p50 {median_p50:.2f} ms, worst p95 {worst:.2f} ms (target < 50 ms)")
        await dispose_engines()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
