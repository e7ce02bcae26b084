"""``BufferedAuditWriter``: group commit for audit appends.

Every event goes through one queue and is written in batches (one transaction per
batch, so the hash chain stays exact and in order). A caller that needs durability
submits with ``wait=True`` and returns only once the transaction holding its event
has committed; concurrent waiters share a transaction: while one batch commits, the
next one accumulates, and it is written as soon as that commit ends (no timer runs
while someone waits). Events nobody waits for are held at most ``flush_interval``
seconds so a burst still fills one batch.

Durability (``durability`` of the ``sql`` storage, see :func:`waits_for_commit`):

* ``auth`` (default) — ``auth.*`` events are committed before ``emit`` returns; other
  events are acknowledged when queued, so a crash (``kill -9``) can lose those of the
  last ``flush_interval`` seconds plus one batch in flight;
* ``sync`` — every event is committed before ``emit`` returns; a crash loses nothing
  that was acknowledged;
* ``buffered`` — nothing waits (the former ``buffered = true``); a crash can lose the
  last ``flush_interval`` plus one batch of any event.

A clean shutdown (``aclose()``, called by the server's lifespan) flushes the queue.
Nothing is dropped silently: when the queue holds ``max_queue`` events, ``submit``
waits (back-pressure); a failing batch is retried with back-off, and only after
``max_attempts`` failures is it abandoned with an ERROR naming the count — its
waiters then get the exception (never a silent success).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from ..models import AuditEvent, AuditEventInput

__all__ = ["BufferedAuditWriter", "Durability", "close_writers", "waits_for_commit"]

logger = logging.getLogger("mastra.ee.audit")

Durability = Literal["auth", "sync", "buffered"]

# One queued event and, when its submitter waits, the future its batch resolves. An
# item without an event is a marker of ``caught_up``: resolved with its batch.
_Item = tuple[AuditEventInput | None, "asyncio.Future[AuditEvent | None] | None"]


def waits_for_commit(durability: str, action: str) -> bool:
    """Whether an event of ``action`` is committed before ``emit`` returns."""
    if durability == "sync":
        return True
    return durability == "auth" and action.startswith("auth.")


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
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None
        # Set by a waiting submitter: ends the accumulation window at once.
        self._urgent: asyncio.Event | None = None
        self.written = 0
        self.abandoned = 0
        _WRITERS.add(self)
        self.batches = 0
        self._writing = False

    def _ensure_worker(self) -> asyncio.Queue[_Item] | None:
        """The queue of the current loop, or ``None`` when the writer belongs to another
        loop (then the caller appends directly: correct, just unbatched)."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and not task.get_loop().is_closed():
            return self._queue if task.get_loop() is loop else None
        # First use, or the previous loop has ended: a fresh queue bound to this loop.
        self._queue = asyncio.Queue(self.max_queue)
        self._urgent = asyncio.Event()
        self._task = loop.create_task(self._run(self._queue, self._urgent), name="mastra-audit-writer")
        return self._queue

    async def submit(self, event: AuditEventInput, *, wait: bool = False) -> AuditEvent | None:
        """Queue ``event``; with ``wait`` return only once its batch has committed (the
        stored event, or the batch's exception after its retries). Without ``wait``
        this returns ``None`` once queued (it blocks only when ``max_queue`` events
        are already pending)."""
        queue = self._ensure_worker()
        if queue is None:
            return await self.storage.append(event)
        if not wait:
            await queue.put((event, None))
            return None
        done: asyncio.Future[AuditEvent | None] = asyncio.get_running_loop().create_future()
        await queue.put((event, done))
        assert self._urgent is not None
        self._urgent.set()
        return await done

    async def _run(self, queue: asyncio.Queue[_Item], urgent: asyncio.Event) -> None:
        while True:
            batch = [await queue.get()]
            self._writing = True  # from now on the batch is held here, not in the queue
            if self.flush_interval > 0 and queue.qsize() < self.batch_size and batch[0][1] is None:
                # Nobody waits yet: let a burst accumulate so one transaction carries
                # many events, but stop as soon as a waiter arrives.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(urgent.wait(), self.flush_interval)
            urgent.clear()
            while len(batch) < self.batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                self._writing = False
                for _ in batch:
                    queue.task_done()

    async def _write(self, batch: list[_Item]) -> None:
        events = [event for event, _ in batch if event is not None]
        waiting = any(done is not None for _, done in batch)
        if not events:
            for _, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)
            return
        delay = 0.05
        for attempt in range(1, self.max_attempts + 1):
            try:
                # Stored events are built only when someone waits for them.
                stored = await self.storage.append_many(events, return_events=waiting)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if attempt == self.max_attempts:
                    self.abandoned += len(batch)
                    logger.error(
                        "Audit writer abandoned %d events after %d attempts: %s", len(batch), attempt, text
                    )
                    for _, done in batch:
                        if done is not None and not done.done():
                            done.set_exception(exc)
                    return
                logger.warning("Audit writer batch of %d failed (attempt %d): %s", len(batch), attempt, text)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                self.written += len(batch)
                self.batches += 1
                results = iter(stored if len(stored) == len(events) else [None] * len(events))
                for event, done in batch:
                    result = next(results) if event is not None else None
                    if done is not None and not done.done():  # a cancelled waiter is done
                        done.set_result(result)
                return

    @property
    def pending(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def caught_up(self) -> None:
        """Wait until every event queued before this call is committed (or abandoned):
        what a reader of the same process needs to see its own writes. Unlike
        :meth:`flush` it does not wait for events queued after it."""
        task, queue = self._task, self._queue
        if task is None or queue is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return
        if queue.empty() and not self._writing:
            return
        marker: asyncio.Future[AuditEvent | None] = asyncio.get_running_loop().create_future()
        await queue.put((None, marker))
        assert self._urgent is not None
        self._urgent.set()
        with contextlib.suppress(Exception):  # a failed batch was logged by the writer
            await marker

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


#: Every writer of this process: a one-shot process (the CLI) closes them all before it
#: exits, so the events it queued are committed, whatever their durability.
_WRITERS: weakref.WeakSet[BufferedAuditWriter] = weakref.WeakSet()


async def close_writers() -> None:
    """Flush and stop every writer working on the running loop."""
    for writer in list(_WRITERS):
        await writer.aclose()
