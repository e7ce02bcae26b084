"""``MemoryAuditStorage`` (SPEC 8.6 ``memory``): the chain in a Python list.

For development and tests: everything is lost at exit. A ``threading.Lock`` (never
held across an ``await``) serialises appends, so the storage may be shared by event
loops in several threads (a test client and a background server).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ..models import AuditEvent, AuditEventInput, AuditFilter, AuditPage, PageInfo, Pagination, utcnow
from ..options import as_provider_options
from ._canonical import ZERO_HASH
from ._chain import as_utc, chain_events
from ._checkpoint import CheckpointTicker
from ._filters import compile_filter
from ._keys import UNKEYED, ChainKeys
from ._options import DEFAULT_MAX_EVENTS
from ._retention import RetentionScheduler
from ._stats import build_buckets, hour_floor, validate_bucket

__all__ = ["MemoryAuditStorage"]

BATCH_SIZE = 500


class MemoryAuditStorage:
    """Options: ``retention_days`` (0 = forever) and ``max_events`` (default 100,000;
    0 = unbounded). Beyond ``max_events`` the oldest events are dropped exactly like a
    retention purge, with a chain anchor, so ``verify_chain`` still passes.
    ``chain_keys`` and the checkpoint options are those of ``SQLAuditStorage``."""

    def __init__(
        self,
        *,
        retention_days: float = 0,
        max_events: int = DEFAULT_MAX_EVENTS,
        clock: Callable[[], datetime] = utcnow,
        chain_keys: ChainKeys | None = None,
        checkpoint_events: int = 1000,
        checkpoint_minutes: float = 5,
    ) -> None:
        self._events: list[AuditEvent] = []
        self._by_id: dict[str, AuditEvent] = {}
        self._anchor: dict[str, Any] | None = None
        self.chain_keys = chain_keys or UNKEYED
        self.checkpoints = CheckpointTicker(
            self.chain_keys, every_events=checkpoint_events, every_minutes=checkpoint_minutes, clock=clock
        )
        self._lock = threading.Lock()
        self._clock = clock
        self.max_events = max_events
        self.retention = RetentionScheduler(self.delete_before, retention_days, clock=clock)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MemoryAuditStorage:
        # One table configures both built-in ``memory`` providers (session and audit).
        from ..sessions._memory import MemoryOptions  # sessions imports audit: not at the top

        parsed = as_provider_options(options).parse(MemoryOptions)
        return cls(
            retention_days=parsed.retention_days, max_events=parsed.max_events, **parsed.chain_arguments()
        )

    # -- writes ------------------------------------------------------------------

    async def append(self, event: AuditEventInput) -> AuditEvent:
        return (await self.append_many([event]))[0]

    async def append_many(
        self, events: Iterable[AuditEventInput], *, return_events: bool = True
    ) -> list[AuditEvent]:
        """Append in order, atomically: the batch gets consecutive ``seq`` values
        (``return_events=False`` returns ``[]``, as the buffered writer wants)."""
        self.retention.ensure_started()
        inputs = list(events)
        with self._lock:
            if self._events:
                last_seq, last_hash = self._events[-1].seq, self._events[-1].hash
            elif self._anchor is not None:
                last_seq, last_hash = self._anchor["seq"], self._anchor["hash"]
            else:
                last_seq, last_hash = 0, ZERO_HASH
            now = self._clock()
            key = self.chain_keys.current
            chained = chain_events(inputs, last_seq=last_seq, last_hash=last_hash, now=now, key=key)
            sealed = [s.event() for s in chained]
            self._events.extend(sealed)
            self._by_id.update((ev.id, ev) for ev in sealed)
            if self.max_events > 0 and len(self._events) > self.max_events:
                self._drop_prefix(len(self._events) - self.max_events)
            if sealed:
                self.checkpoints.observe(sealed[-1].seq, sealed[-1].hash, len(sealed))
        return [ev.model_copy(deep=True) for ev in sealed] if return_events else []

    def _drop_prefix(self, n: int) -> int:
        """Remove the ``n`` oldest events and anchor the chain at the last one removed."""
        if n <= 0:
            return 0
        removed, self._events = self._events[:n], self._events[n:]
        for ev in removed:
            self._by_id.pop(ev.id, None)
        last = removed[-1]
        self._anchor = {
            "seq": last.seq,
            "hash": last.hash,
            **self.chain_keys.anchor_signature(last.seq, last.hash),
        }
        return n

    async def delete_before(self, cutoff: datetime) -> int:
        """Delete the longest prefix of the chain older than ``cutoff``.

        Stopping at the first event at or after ``cutoff`` keeps the remaining events
        contiguous from the anchor even if a clock stepped backwards.
        """
        cutoff = as_utc(cutoff)
        with self._lock:
            n = 0
            while n < len(self._events) and self._events[n].timestamp < cutoff:
                n += 1
            return self._drop_prefix(n)

    # -- reads -------------------------------------------------------------------

    async def get(self, event_id: str) -> AuditEvent | None:
        event = self._by_id.get(event_id)
        return event.model_copy(deep=True) if event is not None else None

    async def list(self, filter: AuditFilter, pagination: Pagination) -> AuditPage:
        self.retention.ensure_started()
        matches = compile_filter(filter)
        with self._lock:
            hits = [ev for ev in reversed(self._events) if matches(ev)]
        total = len(hits)
        if pagination.per_page is None:
            window, per_page, has_more = hits, max(total, 1), False
        else:
            per_page = pagination.per_page
            offset = pagination.page * per_page
            window = hits[offset : offset + per_page]
            has_more = total > (pagination.page + 1) * per_page
        return AuditPage(
            events=[ev.model_copy(deep=True) for ev in window],
            pagination=PageInfo(total=total, page=pagination.page, per_page=per_page, has_more=has_more),
        )

    async def iter_events(self, filter: AuditFilter, ascending: bool = False) -> AsyncIterator[AuditEvent]:
        """Yields copies in ``seq`` order, reading a snapshot in slices of 500 by seq so
        concurrent appends or purges never skip or repeat an event."""
        matches = compile_filter(filter)
        cursor: int | None = None
        while True:
            with self._lock:
                batch = self._slice(cursor, ascending)
            if not batch:
                return
            for ev in batch:
                if matches(ev):
                    yield ev.model_copy(deep=True)
            cursor = batch[-1].seq

    def _slice(self, cursor: int | None, ascending: bool) -> builtins.list[AuditEvent]:
        events = self._events
        if ascending:
            start = 0 if cursor is None else _first_index_after(events, cursor)
            return events[start : start + BATCH_SIZE]
        end = len(events) if cursor is None else _first_index_after(events, cursor - 1)
        return events[max(0, end - BATCH_SIZE) : end][::-1]

    async def iter_chain(self) -> AsyncIterator[tuple[AuditEvent, str | None]]:
        """Every event ascending with the id of the key its hash was made with: the
        current key's, as this storage wrote every event it holds."""
        key = self.chain_keys.current
        async for event in self.iter_events(AuditFilter(), ascending=True):
            yield event, key.kid if key else None

    async def stats(self, filter: AuditFilter, bucket: str = "hour") -> builtins.list[dict[str, Any]]:
        validate_bucket(bucket)
        matches = compile_filter(filter)
        with self._lock:
            counts = [(hour_floor(ev.timestamp), ev.outcome, 1) for ev in self._events if matches(ev)]
        return build_buckets(counts, filter)

    async def chain_anchor(self) -> dict[str, Any] | None:
        return dict(self._anchor) if self._anchor is not None else None

    async def aclose(self) -> None:
        await self.retention.aclose()


def _first_index_after(events: list[AuditEvent], seq: int) -> int:
    """Index of the first event with ``seq`` greater than ``seq`` (events are sorted)."""
    lo, hi = 0, len(events)
    while lo < hi:
        mid = (lo + hi) // 2
        if events[mid].seq <= seq:
            lo = mid + 1
        else:
            hi = mid
    return lo
