"""``is_database_outage``: the one rule that turns a store error into 503 (retry later)
rather than 401 (signed out) or 500 (a bug). Real errors from real drivers."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
import redis.exceptions
from mastra.core.ee.db import get_engine, is_database_outage
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError


async def _error(url: str, statement: str) -> BaseException:
    try:
        async with get_engine(url).begin() as conn:
            await conn.execute(text(statement))
    except Exception as exc:
        return exc
    raise AssertionError("the statement did not fail")


async def test_sqlite_bugs_are_not_outages(sqlite_url: str) -> None:
    assert not is_database_outage(await _error(sqlite_url, "SELECT * FROM no_such_table"))
    assert not is_database_outage(await _error(sqlite_url, "SELEC nonsense"))


def test_sqlite_busy_and_unopenable_are_outages() -> None:
    for message in ("database is locked", "unable to open database file", "disk I/O error"):
        assert is_database_outage(OperationalError("SELECT 1", {}, sqlite3.OperationalError(message)))
        # The audit writer's own SQLite thread meets the driver's errors unwrapped.
        assert is_database_outage(sqlite3.OperationalError(message))
    assert not is_database_outage(sqlite3.OperationalError("no such table: t"))
    assert not is_database_outage(sqlite3.IntegrityError("UNIQUE constraint failed"))


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), True),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), True),
        (asyncpg.exceptions.UndefinedTableError("relation does not exist"), False),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError(), True),
        (redis.exceptions.ConnectionError("Error 111 connecting"), True),
        (redis.exceptions.ResponseError("WRONGTYPE"), False),
        (ValueError("a bug"), False),
    ],
)
def test_unwrapped_driver_errors(error: BaseException, outage: bool) -> None:
    assert is_database_outage(error) is outage


@pytest.mark.postgres
async def test_postgres_constraint_is_a_bug_and_a_closed_port_an_outage(postgres_url: str) -> None:
    async with get_engine(postgres_url).begin() as conn:
        await conn.execute(text("CREATE TABLE u (id int primary key)"))
        await conn.execute(text("INSERT INTO u VALUES (1)"))
    duplicate = await _error(postgres_url, "INSERT INTO u VALUES (1)")
    assert isinstance(duplicate, IntegrityError) and not is_database_outage(duplicate)
    assert not is_database_outage(await _error(postgres_url, "SELECT * FROM no_such_table"))
    closed = await _error("postgresql+asyncpg://postgres@127.0.0.1:1/none", "SELECT 1")
    assert is_database_outage(closed)
