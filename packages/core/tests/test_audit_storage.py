"""The audit-storage conformance suite run against ``memory`` and ``sql`` (SQLite and
PostgreSQL via the ``database_url`` fixture), unkeyed (no secret) and keyed (S28)."""

from __future__ import annotations

from typing import Any

import pytest
from mastra.core.ee.audit import ChainKeys, MemoryAuditStorage, SQLAuditStorage, events_table
from mastra.core.ee.db import get_engine
from mastra.core.testing.audit import AuditStorageConformance, FakeClock
from sqlalchemy import update


class TestMemoryAuditStorage(AuditStorageConformance):
    @pytest.fixture
    def provider(self, clock: FakeClock) -> MemoryAuditStorage:
        return MemoryAuditStorage(clock=clock)

    async def tamper_action(self, provider: Any, seq: int, action: str) -> None:
        for event in provider._events:
            if event.seq == seq:
                event.action = action


class TestSQLAuditStorage(AuditStorageConformance):
    @pytest.fixture
    def provider(self, clock: FakeClock, database_url: str) -> SQLAuditStorage:
        return SQLAuditStorage(database_url, clock=clock)

    async def tamper_action(self, provider: Any, seq: int, action: str) -> None:
        engine = get_engine(provider.database_url)
        async with engine.begin() as conn:
            await conn.execute(update(events_table).where(events_table.c.seq == seq).values(action=action))


KEYS = ChainKeys.from_secrets("conformance-secret-0123456789abcdefghij")


class TestKeyedMemoryAuditStorage(TestMemoryAuditStorage):
    @pytest.fixture
    def provider(self, clock: FakeClock) -> MemoryAuditStorage:
        return MemoryAuditStorage(clock=clock, chain_keys=KEYS)


class TestKeyedSQLAuditStorage(TestSQLAuditStorage):
    @pytest.fixture
    def provider(self, clock: FakeClock, database_url: str) -> SQLAuditStorage:
        return SQLAuditStorage(database_url, clock=clock, chain_keys=KEYS)
