"""Audit export to WorkOS Audit Logs (``audit = workos``; SPEC 10.1 "Audit exporter").

``log(event)`` only queues: a background task sends ``audit_logs.create_event`` with
the idempotency key ``mastra-audit-<event id>``, retrying transient failures (5xx,
429, network) up to ``attempts`` times with the core retry policy (exponential backoff
with jitter, bounded in time), then drops the event with an ERROR log. Requests never
wait on WorkOS and never see its errors. Select a storage too (``audit_storage = sql``)
to keep the local, hash-chained copy: the core pipeline writes the storage first, then
this logger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mastra.core.ee.models import AuditEventInput, format_timestamp, utcnow
from mastra.core.ee.retry import RetryPolicy

from workos._errors import APIError, RateLimitExceededError, ServerError, WorkOSError
from workos.audit_logs.models import AuditLogEvent

if TYPE_CHECKING:
    from workos import AsyncWorkOSClient

    from ._options import WorkOSOptions

__all__ = ["AuditExportMixin", "flatten_metadata", "to_workos_event"]

logger = logging.getLogger("mastra.auth.workos")

MAX_METADATA_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500
_KEY_OK = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
_KEY_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def _key(raw: str) -> str | None:
    if _KEY_OK.match(raw):
        return raw
    cleaned = _KEY_BAD_CHARS.sub("_", raw)[:MAX_KEY_LENGTH]
    return cleaned or None


def _value(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        try:
            value = json.dumps(value, separators=(",", ":"), sort_keys=True)
        except (TypeError, ValueError):
            return "<unserializable>"
    return str(value)[:MAX_VALUE_LENGTH]


def flatten_metadata(metadata: Mapping[str, Any], *, reserved: Mapping[str, Any] = {}) -> dict[str, Any]:
    """WorkOS metadata limits: ≤ 50 keys of ``[a-zA-Z0-9_-]{1,40}``, scalar values.

    Nested objects are flattened with ``_`` (``{"a": {"b": 1}}`` → ``a_b``); other
    non-scalar values are JSON-encoded; strings are cut to 500 characters; keys with
    other characters have them replaced by ``_``. ``reserved`` keys come first and win.
    """
    out: dict[str, Any] = {k: _value(v) for k, v in reserved.items() if v is not None}

    def walk(prefix: str, data: Mapping[str, Any]) -> None:
        for raw_key, value in data.items():
            name = f"{prefix}_{raw_key}" if prefix else str(raw_key)
            if isinstance(value, Mapping) and value:
                walk(name, value)
                continue
            key = _key(name)
            if key is None or key in out or value is None or len(out) >= MAX_METADATA_KEYS:
                continue
            out[key] = _value(value)

    walk("", metadata)
    return out


def to_workos_event(event: AuditEventInput, *, prefix: str, event_id: str) -> dict[str, Any]:
    """The WorkOS Audit Logs event shape of SPEC 10.1 (plain JSON dict)."""
    actor = event.actor
    actor_json: dict[str, Any] = {"id": actor.id, "type": actor.type}
    if actor.email:
        actor_json["name"] = actor.email
    if event.resource is not None:
        target: dict[str, Any] = {"id": event.resource.id, "type": event.resource.type}
        name = event.resource.name or (actor.email if event.resource.id == actor.id else None)
        if name:
            target["name"] = name
    else:
        target = {"id": "system", "type": "system", "name": "System"}
    context: dict[str, Any] = {"location": actor.ip or "unknown"}
    if actor.user_agent:
        context["user_agent"] = actor.user_agent
    occurred = getattr(event, "timestamp", None)
    return {
        "action": f"{prefix}.{event.action}" if prefix else event.action,
        "occurred_at": format_timestamp(occurred if isinstance(occurred, datetime) else utcnow()),
        "version": 1,
        "actor": actor_json,
        "targets": [target],
        "context": context,
        "metadata": flatten_metadata(
            event.metadata,
            reserved={"outcome": event.outcome, "duration": event.duration, "mastra_event_id": event_id},
        ),
    }


def _transient(exc: Exception) -> bool:
    """5xx, 429 and network failures (a ``WorkOSError`` that is no HTTP answer); never
    another 4xx: the same event would be refused again."""
    return isinstance(exc, ServerError | RateLimitExceededError) or (
        isinstance(exc, WorkOSError) and not isinstance(exc, APIError)
    )


class AuditExportMixin:
    client: AsyncWorkOSClient
    options: WorkOSOptions

    audit_attempts = 3
    audit_backoff = 0.5  # seconds before the first retry, then doubling (plus jitter)
    audit_retry_window = 120.0  # seconds: no new attempt starts later than this
    audit_queue_size = 10_000
    audit_close_timeout = 10.0  # seconds aclose() waits for queued events to be sent

    _audit_queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] | None = None
    _audit_worker: asyncio.Task[None] | None = None
    _warned_no_org = False

    async def log(self, event: AuditEventInput) -> None:
        """Queue the event for WorkOS; never raises, never waits on the network."""
        try:
            org = event.actor.organization_id or self.options.organization_id
            if not org:
                if not self._warned_no_org:
                    self._warned_no_org = True
                    logger.warning(
                        "WorkOS audit export skips events without an organization "
                        "(set auth.options.workos.organization_id)"
                    )
                return
            event_id = str(getattr(event, "id", None) or uuid.uuid4())
            payload = to_workos_event(event, prefix=self.options.audit_action_prefix, event_id=event_id)
            queue = self._ensure_worker()
            queue.put_nowait((org, event_id, payload))
        except asyncio.QueueFull:
            logger.error("WorkOS audit export queue is full; dropped event %s", event.action)
        except Exception as exc:
            logger.error("WorkOS audit export could not queue event %s: %s", event.action, exc)

    def _ensure_worker(self) -> asyncio.Queue[tuple[str, str, dict[str, Any]]]:
        loop = asyncio.get_running_loop()
        worker = self._audit_worker
        if self._audit_queue is None or worker is None or worker.done() or worker.get_loop() is not loop:
            self._audit_queue = asyncio.Queue(maxsize=self.audit_queue_size)
            self._audit_worker = loop.create_task(
                self._audit_loop(self._audit_queue), name="workos-audit-export"
            )
        return self._audit_queue

    async def _audit_loop(self, queue: asyncio.Queue[tuple[str, str, dict[str, Any]]]) -> None:
        while True:
            org, event_id, payload = await queue.get()
            try:
                await self._send_with_retry(org, event_id, payload)
            finally:
                queue.task_done()

    async def _send_with_retry(self, org: str, event_id: str, payload: dict[str, Any]) -> bool:
        policy = RetryPolicy(
            attempts=self.audit_attempts,
            total_timeout=self.audit_retry_window,
            wait_initial=self.audit_backoff,
            wait_max=max(self.audit_backoff, 30.0),
        )
        attempts = 0

        async def attempt() -> None:
            nonlocal attempts
            attempts += 1
            try:
                await self.client.audit_logs.create_event(
                    organization_id=org,
                    event=AuditLogEvent.from_dict(payload),
                    idempotency_key=f"mastra-audit-{event_id}",
                    request_options={"max_retries": 0},  # the core retry policy, not the SDK's
                )
            except Exception as exc:
                if _transient(exc) and attempts < self.audit_attempts:
                    logger.warning(
                        "WorkOS audit export attempt %d failed: %s; retrying", attempts, type(exc).__name__
                    )
                raise

        try:
            await policy.call(attempt, transient=_transient)
        except Exception as exc:
            logger.error(
                "WorkOS audit export dropped event %s (%s) after %d attempt(s): %s",
                event_id,
                payload["action"],
                attempts,
                type(exc).__name__,
            )
            return False
        return True

    async def flush_audit(self, wait_seconds: float = 30.0) -> None:
        """Wait until every queued event was sent or dropped (tests, shutdown)."""
        if self._audit_queue is not None:
            await asyncio.wait_for(self._audit_queue.join(), wait_seconds)

    async def aclose_audit(self) -> None:
        """Send what is still queued, then stop the worker (shutdown).

        Events logged just before shutdown (the sign-out that ends a session, say)
        must not vanish with the worker, so the queue is drained first, for at most
        ``audit_close_timeout`` seconds: an unreachable WorkOS cannot hold shutdown
        for the whole retry window. What is left then is dropped with an ERROR log.
        """
        worker, queue = self._audit_worker, self._audit_queue
        if worker is None:
            return
        if queue is not None and not worker.done() and worker.get_loop() is asyncio.get_running_loop():
            try:
                await asyncio.wait_for(queue.join(), self.audit_close_timeout)
            except TimeoutError:
                logger.error(
                    "WorkOS audit export dropped %d queued event(s) at shutdown after %.0f s",
                    queue.qsize() + 1,  # plus the one being sent
                    self.audit_close_timeout,
                )
        worker.cancel()
        try:
            await worker
        except (asyncio.CancelledError, RuntimeError):
            pass
        self._audit_worker = None
