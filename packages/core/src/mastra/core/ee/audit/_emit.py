"""The audit pipeline (SPEC 3.8): storage first, then the logger.

Every part of the project records events through :func:`emit`. Auditing must never
break the action being audited, so each stage's failure is logged (first line only:
database errors append SQL parameters on later lines) and swallowed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..db import is_database_outage
from ..interfaces import maybe_await
from ..models import AuditEvent, AuditEventInput
from ._metadata import has_secret_keys, scrub_metadata
from ._writer import waits_for_commit

__all__ = ["emit"]

logger = logging.getLogger("mastra.ee.audit")


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _coerce(event_input: AuditEventInput | Mapping[str, Any]) -> AuditEventInput:
    if isinstance(event_input, AuditEventInput):
        if has_secret_keys(event_input.metadata):
            return event_input.model_copy(update={"metadata": scrub_metadata(event_input.metadata)})
        return event_input
    data = dict(event_input)
    if isinstance(data.get("metadata"), Mapping):
        data["metadata"] = scrub_metadata(data["metadata"])
    return AuditEventInput.model_validate(data)


async def emit(auth: Any, event_input: AuditEventInput | Mapping[str, Any]) -> AuditEvent | None:
    """Record ``event_input`` (a model or its dict form) and return the stored event.

    Returns ``None`` without storage, when the storage failed, or when the event was
    only queued (the storage's ``durability`` does not wait for it: it is committed
    in a batch shortly after). A waited-for event is committed when this returns.
    Metadata keys that look secret are redacted before any stage sees them.

    Never raises, with one exception: when an event that must be committed before
    this returns (the storage's ``durability``) could not be, because the database is
    unavailable, the error is raised after the logger stage ran, so the action being
    audited answers 503 instead of reporting a success the audit log will not show.
    """
    try:
        event = _coerce(event_input)
    except Exception as exc:
        logger.error("Audit event rejected: %s", type(exc).__name__)
        return None
    storage = getattr(auth, "audit_storage", None) if auth is not None else None
    audit_logger = getattr(auth, "audit", None) if auth is not None else None
    stored: AuditEvent | None = None
    unrecorded: BaseException | None = None
    if storage is not None:
        wait = True
        try:
            writer = getattr(storage, "writer", None)
            if writer is not None:
                wait = waits_for_commit(getattr(storage, "durability", "sync"), event.action)
                stored = await writer.submit(event, wait=wait)
            else:
                stored = await storage.append(event)
        except Exception as exc:
            logger.error("Audit storage failed to record '%s': %s", event.action, _first_line(exc))
            if wait and is_database_outage(exc):
                unrecorded = exc
    if audit_logger is not None:
        try:
            await maybe_await(audit_logger.log(stored if stored is not None else event))
        except Exception as exc:
            logger.error("Audit logger failed to record '%s': %s", event.action, _first_line(exc))
    if unrecorded is not None:
        raise unrecorded
    return stored
