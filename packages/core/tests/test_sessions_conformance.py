"""The session conformance suite on the built-in providers: memory, cookie with an
in-memory registry, and cookie with the SQL registry on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mastra.core.ee.sessions import (
    CookieSessionProvider,
    MemorySessionProvider,
    MemorySessionRegistry,
    SQLSessionRegistry,
)
from mastra.core.testing.sessions import FakeClock, SessionProviderConformance

SECRET = "conformance-secret-0123456789-abcdefghij"


class TestMemoryProvider(SessionProviderConformance):
    @pytest.fixture
    async def provider(self, clock: FakeClock) -> AsyncIterator[MemorySessionProvider]:
        provider = MemorySessionProvider(clock=clock)
        yield provider
        await provider.aclose()


class TestCookieProviderMemoryRegistry(SessionProviderConformance):
    @pytest.fixture
    def provider(self, clock: FakeClock) -> CookieSessionProvider:
        return CookieSessionProvider(secret=SECRET, registry=MemorySessionRegistry(), clock=clock)


class TestCookieProviderSQLRegistry(SessionProviderConformance):
    @pytest.fixture
    def provider(self, clock: FakeClock, database_url: str) -> CookieSessionProvider:
        return CookieSessionProvider(secret=SECRET, registry=SQLSessionRegistry(database_url), clock=clock)


class TestCookieProviderShortTimeouts(SessionProviderConformance):
    """Non-default timeouts, with a previous key configured, in production naming."""

    idle_timeout = 300
    absolute_timeout = 900

    @pytest.fixture
    def provider(self, clock: FakeClock, sqlite_url: str) -> CookieSessionProvider:
        return CookieSessionProvider(
            secret=SECRET,
            previous_secrets=["an-older-secret-that-is-long-enough-000"],
            registry=SQLSessionRegistry(sqlite_url),
            idle_timeout=300,
            absolute_timeout=900,
            production=True,
            clock=clock,
        )
