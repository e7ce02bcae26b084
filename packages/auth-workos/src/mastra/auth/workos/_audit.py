"""Record events through the core audit pipeline (storage, then logger; never raises)."""

from __future__ import annotations

from typing import Any

from mastra.core.ee.audit import emit as core_emit
from mastra.core.ee.models import AuditEventInput

__all__ = ["emit"]


async def emit(auth: Any, event: AuditEventInput) -> None:
    if auth is not None:
        await core_emit(auth, event)
