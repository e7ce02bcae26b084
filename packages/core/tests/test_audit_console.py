"""``ConsoleAuditLogger`` (SPEC 8.5)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest
from mastra.core.ee.audit import ConsoleAuditLogger, MemoryAuditStorage
from mastra.core.ee.defaults import plugin as builtin_plugin
from mastra.core.ee.errors import ConfigurationError
from mastra.core.testing.audit import FakeClock, make_event

TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"


async def _records(
    caplog: pytest.LogCaptureFixture, logger: ConsoleAuditLogger, event: object
) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="mastra.audit"):
        await logger.log(event)  # type: ignore[arg-type]
    return [r for r in caplog.records if r.name == "mastra.audit"]


async def test_text_line_symbols_levels_and_actor(caplog: pytest.LogCaptureFixture) -> None:
    logger = ConsoleAuditLogger()
    (rec,) = await _records(
        caplog, logger, make_event(email="ann@example.com", resource=("agent", "a1"), duration=42)
    )
    assert rec.levelno == logging.INFO
    assert re.fullmatch(
        rf"\[audit\] {TS} ✓ user:ann@example\.com auth\.sign-in on agent:a1 \(42ms\)", rec.getMessage()
    )

    (rec,) = await _records(caplog, logger, make_event(outcome="failure", actor_id="unknown"))
    assert rec.levelno == logging.ERROR
    assert re.fullmatch(rf"\[audit\] {TS} ✗ user:unknown auth\.sign-in", rec.getMessage())

    (rec,) = await _records(
        caplog, logger, make_event("authz.denied", outcome="denied", actor_type="apikey", actor_id="k1")
    )
    assert rec.levelno == logging.WARNING
    assert re.fullmatch(rf"\[audit\] {TS} ⊘ apikey:k1 authz\.denied", rec.getMessage())


async def test_unknown_outcome_gets_question_mark() -> None:
    event = make_event().model_copy(update={"outcome": "weird"})
    assert " ? user:user_1 auth.sign-in" in ConsoleAuditLogger().format(event)


async def test_stored_event_uses_its_own_timestamp(caplog: pytest.LogCaptureFixture) -> None:
    storage = MemoryAuditStorage(clock=FakeClock(datetime(2026, 3, 1, 12, 0, 0, 5000, tzinfo=UTC)))
    stored = await storage.append(make_event())
    (rec,) = await _records(caplog, ConsoleAuditLogger(prefix="AUDIT"), stored)
    assert rec.getMessage() == "AUDIT 2026-03-01T12:00:00.005Z ✓ user:user_1 auth.sign-in"


async def test_json_mode_is_one_compact_camelcase_line(caplog: pytest.LogCaptureFixture) -> None:
    storage = MemoryAuditStorage()
    stored = await storage.append(make_event(resource=("user", "u1"), metadata={"method": "password"}))
    (rec,) = await _records(caplog, ConsoleAuditLogger(json=True), stored)
    line = rec.getMessage()
    assert "\n" not in line and ", " not in line and ": " not in line
    data = json.loads(line)
    assert data == stored.to_json()
    assert {"prevHash", "hash", "seq"} <= data.keys() and data["actor"]["userAgent"] == "pytest"

    (rec,) = await _records(caplog, ConsoleAuditLogger(json=True), make_event())
    data = json.loads(rec.getMessage())
    assert re.fullmatch(TS, data["timestamp"]) and len(data["id"]) == 36


async def test_outcome_and_action_filters(caplog: pytest.LogCaptureFixture) -> None:
    logger = ConsoleAuditLogger(outcomes=["failure", "denied"], actions=["auth.*", "users.role-change"])
    assert await _records(caplog, logger, make_event(outcome="success")) == []
    assert len(await _records(caplog, logger, make_event(outcome="failure"))) == 1
    assert await _records(caplog, logger, make_event("acl.grant", outcome="failure")) == []
    assert len(await _records(caplog, logger, make_event("users.role-change", outcome="denied"))) == 1
    assert await _records(caplog, logger, make_event("users.role-change.x", outcome="denied")) == []


async def test_json_mode_redacts_secret_metadata(caplog: pytest.LogCaptureFixture) -> None:
    (rec,) = await _records(caplog, ConsoleAuditLogger(json=True), make_event(metadata={"token": "abc123"}))
    assert "abc123" not in rec.getMessage()


def test_from_options_via_the_builtin_plugin() -> None:
    logger = builtin_plugin.mastra_ee_audit_logger(
        name="console",
        options={"prefix": "[x]", "outcomes": "failure,denied", "actions": '["auth.*"]', "json": "true"},
    )
    assert isinstance(logger, ConsoleAuditLogger)
    assert logger.prefix == "[x]" and logger.json is True
    assert logger.outcomes == {"failure", "denied"} and logger.actions == ["auth.*"]
    default = ConsoleAuditLogger.from_options({})
    assert (default.prefix, default.json, default.outcomes, default.actions) == ("[audit]", False, None, None)
    with pytest.raises(ConfigurationError):
        ConsoleAuditLogger.from_options({"json": "maybe"})
    with pytest.raises(ValueError, match="too many"):
        ConsoleAuditLogger.from_options({"actions": ["*" * 9]})


async def test_log_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(logging.Logger):
        def log(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise OSError("disk full")

    logger = ConsoleAuditLogger(logger=Broken("broken"))
    with caplog.at_level(logging.ERROR, logger="mastra.ee.audit"):
        await logger.log(make_event())
    assert "Console audit logger failed: OSError" in caplog.text
