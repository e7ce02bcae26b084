"""Retention purge (SPEC 8.6 ``retention_days``): at startup and every 24 h.

"Startup" is the storage's first use inside a running event loop: providers are
built synchronously before the loop exists, so the task is started lazily. A new
event loop (a restarted server, a test) gets a new task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from ..models import utcnow

__all__ = ["RetentionScheduler"]

logger = logging.getLogger("mastra.ee.audit")
PURGE_INTERVAL_SECONDS = 24 * 3600


class RetentionScheduler:
    def __init__(
        self,
        purge: Callable[[datetime], Awaitable[int]],
        retention_days: float,
        *,
        clock: Callable[[], datetime] = utcnow,
        interval: float = PURGE_INTERVAL_SECONDS,
    ) -> None:
        self._purge = purge
        self.retention_days = retention_days
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.first_run: asyncio.Event | None = None

    @property
    def enabled(self) -> bool:
        return self.retention_days > 0

    def ensure_started(self) -> None:
        if not self.enabled:
            return
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        self.first_run = asyncio.Event()
        self._task = loop.create_task(self._run(self.first_run), name="mastra-audit-retention")

    async def purge_now(self) -> int:
        cutoff = self._clock() - timedelta(days=self.retention_days)
        return await self._purge(cutoff)

    async def _run(self, first_run: asyncio.Event) -> None:
        while True:
            try:
                removed = await self.purge_now()
                if removed:
                    logger.info(
                        "Audit retention removed %d events older than %g days", removed, self.retention_days
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep the schedule alive; the next run retries
                logger.error("Audit retention purge failed: %s", _first_line(exc))
            first_run.set()
            await asyncio.sleep(self._interval)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if task.get_loop() is not asyncio.get_running_loop():
            return  # belongs to a finished loop; nothing can run it any more
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


def _first_line(exc: BaseException) -> str:
    # Database errors append the SQL and its parameters on later lines: keep them out.
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
