"""Record events through the core audit pipeline (storage, then logger)."""

from __future__ import annotations

import logging
from typing import Any

from mastra.core.ee.interfaces import maybe_await
from mastra.core.ee.models import AuditEventInput

__all__ = ["emit"]

logger = logging.getLogger("mastra.auth.workos")


async def emit(auth: Any, event: AuditEventInput) -> None:
    """``mastra.core.ee.audit.emit`` when available; never raises into the caller."""
    if auth is None:
        return
    try:
        from mastra.core.ee.audit import emit as core_emit
    except ImportError:  # pragma: no cover - a core without the audit package
        core_emit = None
    try:
        if core_emit is not None:
            await core_emit(auth, event)
            return
        stored: Any = event
        if getattr(auth, "audit_storage", None) is not None:
            stored = await maybe_await(auth.audit_storage.append(event))
        if getattr(auth, "audit", None) is not None:
            await maybe_await(auth.audit.log(stored))
    except Exception as exc:
        logger.error("audit event %s could not be recorded: %s", event.action, exc)
