"""Several processes creating the same tables at once (``serve --workers N`` starting on a
fresh database, several nodes on one PostgreSQL): every one succeeds.

Found by ``bench_signins.py``: the first sign-ups of a freshly started ``serve --workers 2``
answered 503 because both workers ran ``CREATE TABLE`` for the rate-limit table at once and
the loser's "table already exists" failed its request (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from mastra.core.testing.postgres import PostgresServer

_CREATOR = textwrap.dedent(
    """
    import asyncio, sys, time
    from sqlalchemy import Column, Integer, MetaData, String, Table, Index
    from mastra.core.ee.db import create_tables, dispose_engines, get_engine

    url, start = sys.argv[1], float(sys.argv[2])
    metadata = MetaData()
    for n in range(6):
        Table(f"race_{n}", metadata, Column("id", Integer, primary_key=True),
              Column("name", String(20)), Index(f"ix_race_{n}_name", "name"))

    async def main():
        await asyncio.sleep(max(0.0, start - time.time()))  # all processes at once
        await create_tables(get_engine(url), metadata)
        await dispose_engines()

    asyncio.run(main())
    """
)


def _race(url: str, processes: int = 4) -> list[str]:
    start = time.time() + 3.0  # after every interpreter has imported
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CREATOR, url, str(start)],
            env=dict(os.environ),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    failures = []
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            lines = [line for line in err.splitlines() if line.strip() and not line.startswith("(Background")]
            failures.append(lines[-1] if lines else f"exit {proc.returncode}")
    return failures


@pytest.mark.slow
def test_processes_creating_the_same_sqlite_tables_at_once_all_succeed(tmp_path: Path) -> None:
    for round_ in range(3):
        failures = _race(f"sqlite+aiosqlite:///{tmp_path / f'race-{round_}.db'}")
        assert failures == [], failures


@pytest.mark.slow
@pytest.mark.postgres
def test_processes_creating_the_same_postgres_tables_at_once_all_succeed(
    postgres_server: PostgresServer,
) -> None:
    for _ in range(3):
        failures = _race(postgres_server.create_database(f"race_{uuid.uuid4().hex[:10]}"))
        assert failures == [], failures
