"""The shared test infrastructure itself: a real PostgreSQL answers queries."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.mark.postgres
async def test_postgres_fixture_serves_real_database(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    async with engine.connect() as conn:
        version = (await conn.execute(text("select version()"))).scalar_one()
    await engine.dispose()
    assert "PostgreSQL" in version


async def test_database_url_param_runs_on_both(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("select 1 + 1"))).scalar_one() == 2
    await engine.dispose()
