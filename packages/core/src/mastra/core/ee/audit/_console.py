"""``ConsoleAuditLogger`` (SPEC 8.5): audit events as lines on the ``mastra.audit`` logger."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..models import AuditEvent, AuditEventInput, format_timestamp, utcnow
from ..options import as_provider_options
from ._filters import glob_match, validate_action_pattern
from ._metadata import scrub_metadata
from ._options import ConsoleOptions

__all__ = ["ConsoleAuditLogger"]

_SYMBOLS = {"success": "✓", "failure": "✗", "denied": "⊘"}
_LEVELS = {"failure": logging.ERROR, "denied": logging.WARNING}


class ConsoleAuditLogger:
    """Writes each event to the Python logger ``mastra.audit``.

    ``outcomes`` keeps only the listed outcomes; ``actions`` keeps actions matching any
    of the glob patterns (8.6 matcher). Failure → ERROR, denied → WARNING, else INFO.
    Events not yet stored (no ``id``/``timestamp``) get a fresh id and the current time.
    """

    def __init__(
        self,
        *,
        prefix: str = "[audit]",
        outcomes: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        json: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.prefix = prefix
        self.outcomes = frozenset(outcomes) if outcomes is not None else None
        self.actions = [validate_action_pattern(p) for p in actions] if actions is not None else None
        self.json = json
        self.logger = logger or logging.getLogger("mastra.audit")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ConsoleAuditLogger:
        parsed = as_provider_options(options).parse(ConsoleOptions)
        return cls(
            prefix=parsed.prefix, outcomes=parsed.outcomes, actions=parsed.actions, json=parsed.as_json
        )

    def accepts(self, event: AuditEventInput) -> bool:
        if self.outcomes is not None and event.outcome not in self.outcomes:
            return False
        if self.actions is not None:
            return any(glob_match(pattern, event.action) for pattern in self.actions)
        return True

    def format(self, event: AuditEventInput) -> str:
        """The log line (text or compact JSON) for ``event``."""
        if self.json:
            data = event.to_json()
            data["metadata"] = scrub_metadata(event.metadata)
            if not isinstance(event, AuditEvent):
                data = {"id": str(uuid.uuid4()), "timestamp": format_timestamp(utcnow()), **data}
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
        timestamp = event.timestamp if isinstance(event, AuditEvent) else utcnow()
        actor = event.actor
        who = f"{actor.type}:{actor.email}" if actor.email else f"{actor.type}:{actor.id}"
        symbol = _SYMBOLS.get(event.outcome, "?")
        line = f"{self.prefix} {format_timestamp(timestamp)} {symbol} {who} {event.action}"
        if event.resource is not None:
            line += f" on {event.resource.type}:{event.resource.id}"
        if event.duration is not None:
            line += f" ({event.duration}ms)"
        return line

    async def log(self, event: AuditEventInput) -> None:
        """Never raises into the caller: a formatting problem is reported, not thrown."""
        try:
            if not self.accepts(event):
                return
            self.logger.log(_LEVELS.get(event.outcome, logging.INFO), "%s", self.format(event))
        except Exception as exc:  # a logger must never break the request that audited
            logging.getLogger("mastra.ee.audit").error("Console audit logger failed: %s", type(exc).__name__)
