"""MemorySessionProvider specifics (SPEC 8.2): opaque secret, hashed keys, lazy cleanup,
production warning, option handling."""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
from typing import Any

import pytest
from mastra.core.ee.crypto import sha256_hex
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.sessions import PRODUCTION_WARNING, MemorySessionProvider, MemorySessionRegistry
from mastra.core.ee.settings import Settings
from mastra.core.testing.sessions import FakeClock

WARNING_TEXT = (
    "[MemorySessionProvider] In-memory sessions are lost on restart and are not shared between workers."
)


def options(**overrides: Any) -> ProviderOptions:
    settings = Settings(**overrides.pop("settings", {}))
    return ProviderOptions(overrides, settings)


def test_production_warning_exact(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASTRA_DEV", raising=False)
    assert PRODUCTION_WARNING == WARNING_TEXT
    with caplog.at_level(logging.WARNING):
        MemorySessionProvider.from_options(options(settings={"env": "production"}))
    assert [r.getMessage() for r in caplog.records] == [WARNING_TEXT]


def test_no_warning_in_dev(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        MemorySessionProvider.from_options(options(settings={"env": "development"}))
    assert WARNING_TEXT not in caplog.text


def test_production_cookie_name_and_secure() -> None:
    p = MemorySessionProvider.from_options(options(settings={"env": "production"}))
    assert p.cookie.name == "__Host-mastra_session"
    assert p.get_clear_session_headers() == [
        ("set-cookie", "__Host-mastra_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure")
    ]


@pytest.mark.parametrize("registry", ["sql", "none", "redis"])
def test_only_the_memory_registry_is_accepted(registry: str) -> None:
    with pytest.raises(ConfigurationError, match="memory"):
        MemorySessionProvider.from_options(options(registry=registry, settings={"dev": True}))


def test_options_are_applied() -> None:
    p = MemorySessionProvider.from_options(
        options(idle_timeout="60", absolute_timeout=120, cookie_name="sid", cookie_domain="example.com")
    )
    assert (p.idle_timeout, p.absolute_timeout, p.cookie.name, p.cookie.spec.domain) == (
        60,
        120,
        "sid",
        "example.com",
    )


async def test_secret_is_256_bits_and_only_its_hash_is_stored() -> None:
    p = MemorySessionProvider(clock=FakeClock())
    try:
        session = await p.create_session("u1", {"ip": "198.51.100.7"})
        assert len(base64.urlsafe_b64decode(session.id + "=")) == 32
        registry = p.registry
        assert isinstance(registry, MemorySessionRegistry)
        assert list(registry._by_hash) == [sha256_hex(session.id)]
        assert session.id not in repr(registry._by_hash) and session.id not in repr(session)
        ((_, header),) = p.get_session_headers(session)
        assert header == f"mastra_session={session.id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200"
    finally:
        await p.aclose()


def test_no_cleanup_task_before_first_use() -> None:
    p = MemorySessionProvider()
    assert not p.cleanup_running  # constructed outside a loop: nothing scheduled


async def test_cleanup_starts_lazily_and_purges_dead_sessions() -> None:
    clock = FakeClock()
    p = MemorySessionProvider(clock=clock, idle_timeout=100, absolute_timeout=1000)
    p.cleanup_interval = 0.01
    assert not p.cleanup_running
    try:
        live = await p.create_session("u1")
        idle = await p.create_session("u2")
        revoked = await p.create_session("u3")
        assert p.cleanup_running
        await p.destroy_session(revoked.id)
        clock.advance(90)
        assert await p.refresh_session(live.id) is not None  # touched at +90
        clock.advance(20)  # the idle and the revoked session are now 110 s unused
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(p.registry) == 1:  # type: ignore[arg-type]
                break
        assert len(p.registry) == 1  # type: ignore[arg-type]
        assert await p.validate_session(idle.id) is None
        assert await p.validate_session(live.id) is not None
        clock.advance(1000)  # past the absolute lifetime
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(p.registry) == 0:  # type: ignore[arg-type]
                break
        assert len(p.registry) == 0  # type: ignore[arg-type]
    finally:
        await p.aclose()
    assert not p.cleanup_running


async def test_cleanup_task_ends_when_provider_is_dropped() -> None:
    p = MemorySessionProvider()
    p.cleanup_interval = 0.01
    await p.create_session("u1")
    task = p._cleanup_task
    assert task is not None
    del p
    gc.collect()
    await asyncio.wait_for(task, timeout=2)
    assert task.done() and task.exception() is None


async def test_last_seen_written_at_most_once_a_minute() -> None:
    clock = FakeClock()
    p = MemorySessionProvider(clock=clock)
    try:
        session = await p.create_session("u1")
        clock.advance(30)
        first = await p.refresh_session(session.id)
        assert first is not None and first.last_seen_at == session.created_at
        clock.advance(31)
        second = await p.refresh_session(session.id)
        assert second is not None and second.last_seen_at == clock()
        assert second.id == session.id  # opaque sessions keep their id
    finally:
        await p.aclose()


async def test_metadata_is_returned_on_validate() -> None:
    p = MemorySessionProvider()
    try:
        session = await p.create_session("u1", {"sso": "workos", "ip": "192.0.2.1", "userAgent": "UA"})
        validated = await p.validate_session(session.id)
        assert validated is not None
        assert validated.metadata == {"sso": "workos", "ip": "192.0.2.1", "userAgent": "UA"}
        validated.metadata["sso"] = "mutated"
        again = await p.validate_session(session.id)
        assert again is not None and again.metadata["sso"] == "workos"
    finally:
        await p.aclose()


async def test_empty_user_id_is_refused() -> None:
    p = MemorySessionProvider()
    try:
        with pytest.raises(ValueError):
            await p.create_session("")
    finally:
        await p.aclose()
