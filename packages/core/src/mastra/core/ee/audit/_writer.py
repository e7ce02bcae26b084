"""``BufferedAuditWriter``: batches audit appends for ingest throughput.

Durability trade-off (documented for operators): with ``buffered = true`` an event is
acknowledged to the request when it is *queued*, not when it is committed. A clean
shutdown (``aclose()``, called by the server's lifespan) flushes the queue; a crash or
``kill -9`` loses at most the events queued in the last ``flush_interval`` plus one
batch. The default (unbuffered) commits every event before ``emit`` returns.

Nothing is dropped silently: when the queue holds ``max_queue`` events, ``submit``
waits (back-pressure); a failing batch is retried with back-off, and only after
``max_attempts`` failures is it abandoned with an ERROR naming the count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from ..models import AuditEvent, AuditEventInput

__all__ = ["BufferedAuditWriter"]

logger = logging.getLogger("mastra.ee.audit")


class _BatchStorage(Protocol):
    async def append_many(
        self, events: Sequence[AuditEventInput], *, return_events: bool = True
    ) -> list[AuditEvent]: ...
    async def append(self, event: AuditEventInput) -> AuditEvent: ...


class BufferedAuditWriter:
    def __init__(
        self,
        storage: Any,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        max_queue: int = 50_000,
        max_attempts: int = 5,
    ) -> None:
        self.storage: _BatchStorage = storage
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.max_attempts = max_attempts
        self._queue: asyncio.Queue[AuditEventInput] | None = None
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.abandoned = 0

    def _ensure_worker(self) -> asyncio.Queue[AuditEventInput] | None:
        """The queue of the current loop, or ``None`` when the writer belongs to another
        loop (then the caller appends directly: correct, just unbatched)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done():
            return self._queue if self._task.get_loop() is loop else None
        # First use, or the previous loop has ended: a fresh queue bound to this loop.
        self._queue = asyncio.Queue(self.max_queue)
        self._task = loop.create_task(self._run(self._queue), name="mastra-audit-writer")
        return self._queue

    async def submit(self, event: AuditEventInput) -> None:
        """Queue ``event`` (waits only when ``max_queue`` events are already pending)."""
        queue = self._ensure_worker()
        if queue is None:
            await self.storage.append(event)
            return
        await queue.put(event)

    async def _run(self, queue: asyncio.Queue[AuditEventInput]) -> None:
        while True:
            batch = [await queue.get()]
            if self.flush_interval > 0 and queue.qsize() < self.batch_size:
                # Let a burst accumulate briefly so one transaction carries many events.
                await asyncio.sleep(self.flush_interval)
            while len(batch) < self.batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write(self, batch: list[AuditEventInput]) -> None:
        delay = 0.05
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.storage.append_many(batch, return_events=False)
                self.written += len(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if attempt == self.max_attempts:
                    self.abandoned += len(batch)
                    logger.error(
                        "Audit writer abandoned %d events after %d attempts: %s", len(batch), attempt, text
                    )
                    return
                logger.warning("Audit writer batch of %d failed (attempt %d): %s", len(batch), attempt, text)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    @property
    def pending(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def flush(self) -> None:
        """Wait until every event queued so far has been written (or abandoned)."""
        if self._queue is None or self._task is None:
            return
        if self._task.get_loop() is not asyncio.get_running_loop() or self._task.done():
            return
        await self._queue.join()

    async def aclose(self) -> None:
        """Flush, then stop the worker. Safe to call more than once."""
        await self.flush()
        task, self._task = self._task, None
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
