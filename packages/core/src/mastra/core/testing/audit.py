"""Conformance suite for ``IAuditStorage`` (SPEC 3.8, 8.6, S14).

Subclass :class:`AuditStorageConformance` and supply:

* a ``provider`` fixture: an **empty** storage whose clock is the suite's ``clock``
  fixture (a :class:`FakeClock`; pass it as the storage's ``clock``);
* ``tamper_action(provider, seq, action)``: change the stored ``action`` of one event
  behind the storage's back (an SQL ``UPDATE``, a poke at a list), as an attacker
  with database access would.

A storage with a ``chain_keys`` attribute (:class:`~mastra.core.ee.audit.ChainKeys`)
is checked as keyed: hashes are HMAC-SHA256 under its current key (SPEC S28).

Example::

    class TestMine(AuditStorageConformance):
        @pytest.fixture
        def provider(self, clock):
            return MyAuditStorage(clock=clock)

        async def tamper_action(self, provider, seq, action):
            ...
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ..ee.audit import ZERO_HASH, compute_event_hash, verify_chain
from ..ee.interfaces import IAuditStorage
from ..ee.models import AuditActor, AuditEvent, AuditEventInput, AuditFilter, AuditResource, Pagination
from ._clock import FakeClock as _FakeClock

__all__ = ["AuditStorageConformance", "FakeClock", "make_event"]

START = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


class FakeClock(_FakeClock):
    """The suite's clock; it starts at a non-zero millisecond so truncation shows."""

    def __init__(self, start: datetime = START) -> None:
        super().__init__(start)


def make_event(
    action: str = "auth.sign-in",
    *,
    outcome: str = "success",
    actor_id: str = "user_1",
    actor_type: str = "user",
    email: str | None = None,
    resource: tuple[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
    duration: int | None = None,
) -> AuditEventInput:
    return AuditEventInput(
        actor=AuditActor(type=actor_type, id=actor_id, email=email, ip="127.0.0.1", user_agent="pytest"),
        action=action,
        outcome=outcome,
        resource=AuditResource(type=resource[0], id=resource[1]) if resource else None,
        metadata=metadata or {},
        duration=duration,
    )


async def _all(
    provider: Any, audit_filter: AuditFilter | None = None, ascending: bool = False
) -> list[AuditEvent]:
    return [e async for e in provider.iter_events(audit_filter or AuditFilter(), ascending=ascending)]


async def _seqs(provider: Any, **filters: Any) -> list[int]:
    page = await provider.list(AuditFilter(**filters), Pagination(per_page=None))
    return [e.seq for e in page.events]


def _expected_hash(provider: Any, event: AuditEvent) -> str:
    """The hash ``provider`` should have stored: keyed when it has a current key."""
    keys = getattr(provider, "chain_keys", None)
    current = keys.current if keys is not None else None
    return compute_event_hash(event.to_json(), current.chain if current is not None else None)


async def _anchor(provider: Any) -> dict[str, Any] | None:
    """``{seq, hash}`` of the anchor, without the signature a keyed storage adds."""
    anchor = await provider.chain_anchor()
    return {"seq": anchor["seq"], "hash": anchor["hash"]} if anchor is not None else None


class AuditStorageConformance:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    async def tamper_action(self, provider: Any, seq: int, action: str) -> None:
        raise NotImplementedError("subclasses must rewrite one stored event's action")

    # -- append and the chain ---------------------------------------------------------

    async def test_is_an_audit_storage(self, provider: Any) -> None:
        assert isinstance(provider, IAuditStorage)

    async def test_append_assigns_id_seq_timestamp_and_hashes(self, provider: Any, clock: FakeClock) -> None:
        event = await provider.append(make_event(metadata={"method": "password"}, duration=12))
        assert uuid.UUID(event.id).version == 4
        assert event.seq == 1
        assert event.timestamp == clock.current.replace(microsecond=250_000)
        assert event.prev_hash == ZERO_HASH
        assert len(event.hash) == 64 and event.hash == event.hash.lower()
        assert event.hash == _expected_hash(provider, event)
        assert event.metadata == {"method": "password"} and event.duration == 12

    async def test_timestamp_is_truncated_to_milliseconds(self, provider: Any, clock: FakeClock) -> None:
        clock.current = datetime(2026, 3, 1, 12, 0, 0, 123_456, tzinfo=UTC)
        event = await provider.append(make_event())
        assert event.timestamp.microsecond == 123_000
        stored = await provider.get(event.id)
        assert stored is not None and stored.timestamp == event.timestamp
        assert stored.to_json()["timestamp"] == "2026-03-01T12:00:00.123Z"

    async def test_seq_is_consecutive_and_hashes_link(self, provider: Any) -> None:
        events = [await provider.append(make_event(f"test.e{i}")) for i in range(5)]
        assert [e.seq for e in events] == [1, 2, 3, 4, 5]
        for previous, current in itertools.pairwise(events):
            assert current.prev_hash == previous.hash
        report = await verify_chain(provider)
        assert report.ok and report.count == 5

    async def test_append_many_keeps_order_in_one_chain(self, provider: Any) -> None:
        first = await provider.append(make_event("test.first"))
        batch = await provider.append_many([make_event(f"test.b{i}") for i in range(4)])
        assert [e.action for e in batch] == [f"test.b{i}" for i in range(4)]
        assert [e.seq for e in batch] == [2, 3, 4, 5]
        assert batch[0].prev_hash == first.hash
        assert await provider.append_many([]) == []
        assert (await verify_chain(provider)).ok

    async def test_get_round_trips_the_api_object(self, provider: Any) -> None:
        metadata = {"nested": {"list": [1, "two", None, True]}, "unicode": "Zoë ✓ 😀", "ratio": 0.25, "n": -7}
        event = await provider.append(
            make_event(resource=("agent", "a1"), metadata=metadata, email="zoe@example.com", duration=3)
        )
        stored = await provider.get(event.id)
        assert stored is not None
        assert stored.to_json() == event.to_json()
        assert stored.metadata == metadata
        assert await provider.get(str(uuid.uuid4())) is None

    async def test_secret_metadata_is_redacted_at_append(self, provider: Any) -> None:
        event = await provider.append(
            make_event(metadata={"password": "hunter22", "nested": {"refreshToken": "x"}})
        )
        stored = await provider.get(event.id)
        assert stored is not None
        assert "hunter22" not in str(stored.to_json())
        assert stored.metadata == {"password": "[REDACTED]", "nested": {"refreshToken": "[REDACTED]"}}

    async def test_empty_storage_verifies(self, provider: Any) -> None:
        report = await verify_chain(provider)
        assert report.ok and report.count == 0
        assert await provider.chain_anchor() is None

    # -- list, filters, pagination ----------------------------------------------------

    async def test_list_is_newest_first_with_has_more(self, provider: Any) -> None:
        await provider.append_many([make_event(f"test.e{i}") for i in range(7)])
        page0 = await provider.list(AuditFilter(), Pagination(page=0, per_page=3))
        assert [e.seq for e in page0.events] == [7, 6, 5]
        info = page0.pagination
        assert (info.total, info.page, info.per_page, info.has_more) == (7, 0, 3, True)
        page1 = await provider.list(AuditFilter(), Pagination(page=1, per_page=3))
        assert [e.seq for e in page1.events] == [4, 3, 2] and page1.pagination.has_more
        page2 = await provider.list(AuditFilter(), Pagination(page=2, per_page=3))
        assert [e.seq for e in page2.events] == [1] and not page2.pagination.has_more
        beyond = await provider.list(AuditFilter(), Pagination(page=5, per_page=3))
        assert beyond.events == [] and beyond.pagination.total == 7 and not beyond.pagination.has_more
        exact = await provider.list(AuditFilter(), Pagination(page=0, per_page=7))
        assert not exact.pagination.has_more  # total > (page+1)*perPage is false at 7 == 7
        everything = await provider.list(AuditFilter(), Pagination(per_page=None))
        assert len(everything.events) == 7 and not everything.pagination.has_more
        assert page0.to_json()["pagination"] == {"total": 7, "page": 0, "perPage": 3, "hasMore": True}

    async def _seed_for_filters(self, provider: Any) -> None:
        await provider.append_many(
            [
                make_event("auth.sign-in", actor_id="u1", outcome="success", resource=("user", "u1")),  # 1
                make_event("auth.sign-in", actor_id="u2", outcome="failure"),  # 2
                make_event("auth.sign-up", actor_id="u2", outcome="success", resource=("user", "u2")),  # 3
                make_event("authz.denied", actor_id="u1", outcome="denied", resource=("agent", "a1")),  # 4
                make_event(
                    "users.role-change", actor_type="system", actor_id="cli", resource=("user", "u1")
                ),  # 5
                make_event("acl.grant", actor_type="apikey", actor_id="k1", resource=("agent", "a2")),  # 6
                make_event("auth_x.sign%in", actor_id="u3"),  # 7: LIKE metacharacters in the action
                make_event("AUTH.SIGN-IN", actor_id="u3"),  # 8: case must matter
                make_event("auth\\odd", actor_id="u3"),  # 9: a backslash
            ]
        )

    async def test_exact_filters(self, provider: Any) -> None:
        await self._seed_for_filters(provider)
        assert await _seqs(provider, actor_id="u1") == [4, 1]
        assert await _seqs(provider, actor_type="system") == [5]
        assert await _seqs(provider, actor_type="apikey") == [6]
        assert await _seqs(provider, resource_type="user") == [5, 3, 1]
        assert await _seqs(provider, resource_type="user", resource_id="u1") == [5, 1]
        assert await _seqs(provider, resource_id="a1") == [4]
        assert await _seqs(provider, outcome="failure") == [2]
        assert await _seqs(provider, outcome="denied") == [4]
        assert await _seqs(provider, actor_id="u2", outcome="success") == [3]
        assert await _seqs(provider, action="auth.sign-in") == [2, 1]
        assert await _seqs(provider, action=["auth.sign-up", "acl.grant", "nope"]) == [6, 3]
        assert await _seqs(provider, action=["auth.*"]) == []  # a list is any-of *exact*
        assert len(await _seqs(provider, action=[])) == 9  # an empty list filters nothing

    async def test_wildcards_match_the_whole_action(self, provider: Any) -> None:
        await self._seed_for_filters(provider)
        assert await _seqs(provider, action="auth.*") == [3, 2, 1]
        assert await _seqs(provider, action="*.sign-in") == [2, 1]
        assert await _seqs(provider, action="auth*") == [9, 7, 4, 3, 2, 1]
        assert await _seqs(provider, action="*sign*") == [7, 3, 2, 1]
        assert await _seqs(provider, action="auth.sign") == []  # no implicit prefix match
        assert await _seqs(provider, action="a*s*n*i*n") == [7, 2, 1]
        assert await _seqs(provider, action="*") == [9, 8, 7, 6, 5, 4, 3, 2, 1]
        # ``_`` and ``%`` are literals, not LIKE wildcards; ``\\`` is a literal too.
        assert await _seqs(provider, action="auth_x.*") == [7]
        assert await _seqs(provider, action="auth_*") == [7]
        assert await _seqs(provider, action="*%*") == [7]
        assert await _seqs(provider, action="auth\\*") == [9]
        assert await _seqs(provider, action="AUTH.*") == [8]  # case-sensitive everywhere

    async def test_action_prefix_is_a_literal_prefix(self, provider: Any) -> None:
        await self._seed_for_filters(provider)
        assert await _seqs(provider, action_prefix="auth.") == [3, 2, 1]
        assert await _seqs(provider, action_prefix="authz.") == [4]
        assert await _seqs(provider, action_prefix="auth_") == [7]
        assert await _seqs(provider, action_prefix="auth%") == []
        assert await _seqs(provider, action_prefix="AUTH") == [8]
        assert await _seqs(provider, action_prefix="auth.*") == []  # ``*`` is literal here

    async def test_pattern_limits_raise_value_error(self, provider: Any) -> None:
        await provider.append(make_event())
        with pytest.raises(ValueError, match="too long"):
            await provider.list(AuditFilter(action="a*" + "b" * 199), Pagination())
        with pytest.raises(ValueError, match="too many"):
            await provider.list(AuditFilter(action="*a" * 9), Pagination())
        with pytest.raises(ValueError, match="too many"):
            await _all(provider, AuditFilter(action="*" * 9))
        # At the limits it works.
        ok = await provider.list(AuditFilter(action="*" * 8), Pagination())
        assert ok.pagination.total == 1

    async def test_date_range_is_inclusive(self, provider: Any, clock: FakeClock) -> None:
        stamps = []
        for i in range(4):
            stamps.append((await provider.append(make_event(f"test.e{i}"))).timestamp)
            clock.advance(60)
        assert await _seqs(provider, start_date=stamps[1]) == [4, 3, 2]
        assert await _seqs(provider, end_date=stamps[2]) == [3, 2, 1]
        assert await _seqs(provider, start_date=stamps[1], end_date=stamps[2]) == [3, 2]
        assert await _seqs(
            provider, start_date=stamps[1] + timedelta(milliseconds=1), end_date=stamps[2]
        ) == [3]
        # Non-UTC offsets mean the same instant.
        eastern = stamps[1].astimezone(timezone(timedelta(hours=-5)))
        assert await _seqs(provider, start_date=eastern, end_date=eastern) == [2]

    # -- streaming --------------------------------------------------------------------

    async def test_iter_events_streams_every_event_in_order(self, provider: Any) -> None:
        n = 1203  # more than two batches of 500
        await provider.append_many([make_event("test.even" if i % 2 == 0 else "test.odd") for i in range(n)])
        descending = [e.seq for e in await _all(provider)]
        assert descending == list(range(n, 0, -1))
        ascending = [e.seq for e in await _all(provider, ascending=True)]
        assert ascending == list(range(1, n + 1))
        odd = [e.seq for e in await _all(provider, AuditFilter(action="test.odd"))]
        assert odd == list(range(n - 1, 0, -2))

    async def test_concurrent_appends_are_gap_free(self, provider: Any) -> None:
        results = await asyncio.gather(*(provider.append(make_event(f"test.c{i}")) for i in range(200)))
        assert sorted(e.seq for e in results) == list(range(1, 201))
        assert len({e.id for e in results}) == 200
        report = await verify_chain(provider)
        assert report.ok and report.count == 200

    # -- stats ------------------------------------------------------------------------

    async def test_stats_counts_outcomes_per_utc_hour(self, provider: Any, clock: FakeClock) -> None:
        clock.current = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
        await provider.append_many([make_event(outcome="success"), make_event(outcome="failure")])
        clock.current = datetime(2026, 3, 1, 10, 59, 59, 999_000, tzinfo=UTC)
        await provider.append(make_event(outcome="denied", action="authz.denied"))
        clock.current = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        await provider.append_many([make_event(outcome="success")] * 3)
        buckets = await provider.stats(AuditFilter())
        assert buckets == [
            {"start": "2026-03-01T10:00:00.000Z", "success": 1, "failure": 1, "denied": 1},
            {"start": "2026-03-01T12:00:00.000Z", "success": 3, "failure": 0, "denied": 0},
        ]
        filtered = await provider.stats(AuditFilter(action_prefix="authz."))
        assert filtered == [{"start": "2026-03-01T10:00:00.000Z", "success": 0, "failure": 0, "denied": 1}]
        ranged = await provider.stats(
            AuditFilter(
                start_date=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
                end_date=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
            )
        )
        assert [b["start"][11:13] for b in ranged] == ["09", "10", "11", "12"]  # zero-filled hours
        assert ranged[1]["failure"] == 1 and ranged[2] == {
            "start": "2026-03-01T11:00:00.000Z",
            "success": 0,
            "failure": 0,
            "denied": 0,
        }
        with pytest.raises(ValueError, match="bucket"):
            await provider.stats(AuditFilter(), bucket="day")

    # -- retention and the anchor -----------------------------------------------------

    async def test_delete_before_anchors_the_chain(self, provider: Any, clock: FakeClock) -> None:
        events = []
        for i in range(6):
            events.append(await provider.append(make_event(f"test.e{i}")))
            clock.advance(3600)
        removed = await provider.delete_before(events[3].timestamp)
        assert removed == 3
        assert await _anchor(provider) == {"seq": 3, "hash": events[2].hash}
        assert await provider.get(events[0].id) is None
        assert await _seqs(provider) == [6, 5, 4]
        report = await verify_chain(provider)
        assert report.ok and report.count == 3
        assert await provider.delete_before(events[3].timestamp) == 0  # idempotent
        later = await provider.append(make_event("test.after"))
        assert later.seq == 7 and later.prev_hash == events[5].hash
        # Deleting everything keeps the chain going from the anchor.
        assert await provider.delete_before(clock.advance(3600)) == 4
        assert await _anchor(provider) == {"seq": 7, "hash": later.hash}
        after_all = await provider.append(make_event("test.fresh"))
        assert after_all.seq == 8 and after_all.prev_hash == later.hash
        report = await verify_chain(provider)
        assert report.ok and report.count == 1

    async def test_delete_before_keeps_the_chain_contiguous(self, provider: Any, clock: FakeClock) -> None:
        first = await provider.append(make_event("test.old"))
        clock.advance(7200)
        await provider.append(make_event("test.new"))
        clock.advance(-7200 + 60)  # the clock steps backwards
        await provider.append(make_event("test.stepped-back"))
        removed = await provider.delete_before(first.timestamp + timedelta(seconds=600))
        assert removed == 1  # seq 3 is older than the cutoff but follows a newer event
        assert await _seqs(provider) == [3, 2]
        assert (await verify_chain(provider)).ok

    # -- tamper evidence --------------------------------------------------------------

    async def test_tampering_is_detected_at_the_edited_event(self, provider: Any) -> None:
        events = await provider.append_many([make_event(f"test.e{i}") for i in range(5)])
        await self.tamper_action(provider, 3, "test.innocent")
        report = await verify_chain(provider)
        assert not report.ok
        assert report.broken_seq == 3 and report.broken_id == events[2].id
        assert report.count == 2
        assert report.reason is not None and "hash" in report.reason
        assert report.describe().startswith(f"BROKEN at seq 3 (id {events[2].id}): ")
