"""The API key conformance suite on the core's ``sql`` provider, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mastra.core.ee.api_keys import SQLApiKeyProvider
from mastra.core.testing.api_keys import ApiKeyProviderConformance, FakeClock

SECRET = "api-key-conformance-secret-0123456789abcdef"


class TestSQLApiKeys(ApiKeyProviderConformance):
    @pytest.fixture
    def provider(self, clock: FakeClock, database_url: str) -> SQLApiKeyProvider:
        return SQLApiKeyProvider(database_url, secret=SECRET, clock=clock)


class TestSQLApiKeysPolicy(ApiKeyProviderConformance):
    """Non-default lifetimes, another environment, no verification cache."""

    default_ttl = timedelta(days=7)
    max_ttl = timedelta(days=30)
    environment = "test"

    @pytest.fixture
    def provider(self, clock: FakeClock, sqlite_url: str) -> SQLApiKeyProvider:
        return SQLApiKeyProvider(
            sqlite_url,
            secret=SECRET,
            environment="test",
            default_ttl=timedelta(days=7),
            max_ttl=timedelta(days=30),
            cache_ttl=0,
            clock=clock,
        )
