"""Shared fixtures of the mastra-auth-better tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mastra.auth.better import EmbeddedBetterAuth
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings

pytest_plugins = ["mastra.core.testing.fixtures"]

# A copy of /work/shared/vectors/better-auth-1.7.25.json: values from a real Better Auth 1.7.25.
VECTORS = json.loads((Path(__file__).parent / "vectors" / "better-auth-1.7.25.json").read_text())

SECRET = "better-test-secret-0123456789abcdefghijkl"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": database_url, "auth_secret": SECRET}
    values.update(overrides)
    return Settings(**values)


def make_embedded(database_url: str, *, clock: Any = None, **options: Any) -> EmbeddedBetterAuth:
    return EmbeddedBetterAuth.from_options(ProviderOptions(options, make_settings(database_url)), clock=clock)


@pytest.fixture
def vectors() -> dict[str, Any]:
    return dict(VECTORS)
