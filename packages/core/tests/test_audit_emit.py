"""The ``emit`` pipeline (SPEC 3.8, S13) and the buffered writer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from mastra.core.ee.audit import (
    BufferedAuditWriter,
    ConsoleAuditLogger,
    MemoryAuditStorage,
    SQLAuditStorage,
    emit,
    verify_chain,
)
from mastra.core.ee.models import AuditEvent, AuditEventInput, AuditFilter, Pagination
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.provider import MastraAuthProvider, with_ee
from mastra.core.testing.audit import make_event


class RecordingLogger:
    def __init__(self, calls: list[str] | None = None) -> None:
        self.events: list[AuditEventInput] = []
        self.calls = calls if calls is not None else []

    async def log(self, event: AuditEventInput) -> None:
        self.calls.append("logger")
        self.events.append(event)


class RecordingStorage(MemoryAuditStorage):
    def __init__(self, calls: list[str]) -> None:
        super().__init__()
        self.calls = calls

    async def append(self, event: AuditEventInput) -> AuditEvent:
        self.calls.append("storage")
        return await super().append(event)


async def test_storage_then_logger_with_the_stored_event() -> None:
    calls: list[str] = []
    storage, logger = RecordingStorage(calls), RecordingLogger(calls)
    auth = with_ee(MastraAuthProvider(), audit_storage=storage, audit=logger)
    stored = await emit(auth, make_event())
    assert calls == ["storage", "logger"]
    assert stored is not None and stored.seq == 1
    assert isinstance(logger.events[0], AuditEvent) and logger.events[0].hash == stored.hash


async def test_logger_alone_and_nothing_at_all() -> None:
    logger = RecordingLogger()
    assert await emit(with_ee(MastraAuthProvider(), audit=logger), make_event()) is None
    assert len(logger.events) == 1 and not isinstance(logger.events[0], AuditEvent)
    assert await emit(MastraAuthProvider(), make_event()) is None
    assert await emit(None, make_event()) is None


async def test_accepts_the_dict_form() -> None:
    storage = MemoryAuditStorage()
    stored = await emit(
        with_ee(MastraAuthProvider(), audit_storage=storage),
        {
            "actor": {"type": "system", "id": "cli"},
            "action": "users.disable",
            "outcome": "success",
            "resource": {"type": "user", "id": "u1"},
        },
    )
    assert stored is not None and stored.actor.id == "cli" and stored.resource is not None


async def test_failures_are_logged_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    class FailingStorage:
        async def append(self, event: AuditEventInput) -> AuditEvent:
            raise RuntimeError("database is locked\n[SQL: INSERT ...]\n[parameters: ('secret-ish',)]")

    class FailingLogger:
        async def log(self, event: AuditEventInput) -> None:
            raise OSError("socket closed")

    auth = with_ee(MastraAuthProvider(), audit_storage=FailingStorage(), audit=FailingLogger())
    with caplog.at_level(logging.ERROR, logger="mastra.ee.audit"):
        assert await emit(auth, make_event("auth.logout")) is None
    assert "Audit storage failed to record 'auth.logout': RuntimeError: database is locked" in caplog.text
    assert "Audit logger failed to record 'auth.logout': OSError: socket closed" in caplog.text
    assert "parameters" not in caplog.text  # only the first line of a database error

    # A logger still runs when the storage fails.
    logger = RecordingLogger()
    await emit(with_ee(MastraAuthProvider(), audit_storage=FailingStorage(), audit=logger), make_event())
    assert len(logger.events) == 1


async def test_invalid_input_is_rejected_without_echoing_it(caplog: pytest.LogCaptureFixture) -> None:
    storage = MemoryAuditStorage()
    with caplog.at_level(logging.ERROR, logger="mastra.ee.audit"):
        result = await emit(
            with_ee(MastraAuthProvider(), audit_storage=storage),
            {
                "actor": {"type": "robot", "id": "x"},
                "action": "a.b",
                "outcome": "success",
                "metadata": {"hint": "hunter2-password-value"},
            },
        )
    assert result is None
    assert "Audit event rejected: ValidationError" in caplog.text
    assert "hunter2" not in caplog.text


async def test_secret_metadata_never_reaches_storage_or_logger(caplog: pytest.LogCaptureFixture) -> None:
    storage = MemoryAuditStorage()
    auth = with_ee(MastraAuthProvider(), audit_storage=storage, audit=ConsoleAuditLogger(json=True))
    secrets = {
        "password": "pw-123",
        "Authorization": "Bearer tok-456",
        "session_cookie": "ck-789",
        "nested": {"client_secret": "cs-000", "ok": "visible"},
        "list": [{"idToken": "id-111"}],
    }
    with caplog.at_level(logging.INFO, logger="mastra.audit"):
        stored = await emit(auth, make_event(metadata=secrets))
    assert stored is not None
    dumped = str(stored.to_json()) + caplog.text
    for value in ("pw-123", "tok-456", "ck-789", "cs-000", "id-111"):
        assert value not in dumped
    assert "visible" in dumped
    # The caller's dict is not modified.
    assert secrets["password"] == "pw-123"


# -- buffered writer -----------------------------------------------------------------


async def test_buffered_emit_batches_and_flushes_everything(sqlite_url: str) -> None:
    storage = SQLAuditStorage(sqlite_url, buffered=True, batch_size=64, flush_interval=0.01)
    auth = with_ee(MastraAuthProvider(), audit_storage=storage)
    calls: list[int] = []
    original = storage.append_many

    async def counting(events: Any, **kwargs: Any) -> list[AuditEvent]:
        events = list(events)
        calls.append(len(events))
        return await original(events, **kwargs)

    storage.append_many = counting  # type: ignore[method-assign]
    results = await asyncio.gather(*(emit(auth, make_event(f"test.e{i}")) for i in range(1000)))
    assert all(r is None for r in results)  # queued, not yet committed
    await storage.aclose()  # the shutdown flush
    assert sum(calls) == 1000 and max(calls) <= 64 and len(calls) < 1000 / 4
    page = await storage.list(AuditFilter(), Pagination(per_page=1))
    assert page.pagination.total == 1000
    report = await verify_chain(storage)
    assert report.ok and report.count == 1000
    await storage.aclose()  # idempotent


async def test_writer_retries_then_reports_abandoned_events(caplog: pytest.LogCaptureFixture) -> None:
    class Flaky:
        def __init__(self, failures: int) -> None:
            self.failures = failures
            self.stored: list[AuditEventInput] = []

        async def append_many(self, events: Any, *, return_events: bool = True) -> list[AuditEvent]:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("connection reset")
            self.stored.extend(events)
            return []

        async def append(self, event: AuditEventInput) -> AuditEvent:
            raise AssertionError("not used")

    flaky = Flaky(failures=2)
    writer = BufferedAuditWriter(flaky, flush_interval=0)
    for i in range(10):
        await writer.submit(make_event(f"test.{i}"))
    await writer.aclose()
    assert len(flaky.stored) == 10 and writer.abandoned == 0

    dead = Flaky(failures=10**6)
    writer = BufferedAuditWriter(dead, flush_interval=0, max_attempts=2)
    with caplog.at_level(logging.WARNING, logger="mastra.ee.audit"):
        await writer.submit(make_event())
        await writer.aclose()
    assert writer.abandoned == 1
    assert "Audit writer abandoned 1 events after 2 attempts: connection reset" in caplog.text


async def test_writer_applies_back_pressure_instead_of_dropping() -> None:
    gate = asyncio.Event()

    class Slow:
        def __init__(self) -> None:
            self.count = 0

        async def append_many(self, events: Any, *, return_events: bool = True) -> list[AuditEvent]:
            await gate.wait()
            self.count += len(list(events))
            return []

    slow = Slow()
    writer = BufferedAuditWriter(slow, flush_interval=0, max_queue=5, batch_size=5)
    producer = asyncio.gather(*(writer.submit(make_event()) for _ in range(20)))
    await asyncio.sleep(0.05)
    assert not producer.done()  # blocked on the full queue
    gate.set()
    await producer
    await writer.aclose()
    assert slow.count == 20


# -- plugin factories -----------------------------------------------------------------


def test_builtin_plugin_builds_storages(tmp_path: Any) -> None:
    from mastra.core.ee.defaults import plugin as builtin_plugin
    from mastra.core.ee.settings import Settings

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    mastra_ee_audit_storage = builtin_plugin.mastra_ee_audit_storage
    sql = mastra_ee_audit_storage(
        name="sql", options=ProviderOptions({"retention_days": "30", "buffered": "1"}, settings)
    )
    assert isinstance(sql, SQLAuditStorage)
    assert sql.database_url == settings.database_url and sql.retention.retention_days == 30
    assert sql.writer is not None
    memory = mastra_ee_audit_storage(name="memory", options=ProviderOptions({"max_events": 10}, settings))
    assert isinstance(memory, MemoryAuditStorage) and memory.max_events == 10
    assert mastra_ee_audit_storage(name="other", options={}) is None
