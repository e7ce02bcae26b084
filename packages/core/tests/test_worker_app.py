"""A worker uvicorn restarts re-reads the configuration: the parent's refusals hold there
too (review of #14)."""

from __future__ import annotations

import pytest
from mastra.core.cli._worker_app import app_factory


def test_a_restarted_worker_refuses_per_process_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_WORKERS", "2")
    monkeypatch.setenv("MASTRA_AUTH_SECRET", "w" * 48)
    monkeypatch.setenv("MASTRA_AUTH__SESSION", "memory")
    with pytest.raises(RuntimeError, match="MASTRA_AUTH__SESSION=memory"):
        app_factory()


def test_a_restarted_worker_refuses_production_without_a_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_WORKERS", "2")
    monkeypatch.setenv("MASTRA_AUTH_SECRET", "w" * 48)
    monkeypatch.setenv("MASTRA_ENV", "production")
    monkeypatch.delenv("MASTRA_PUBLIC_URL", raising=False)
    with pytest.raises(RuntimeError, match="MASTRA_PUBLIC_URL"):
        app_factory()
