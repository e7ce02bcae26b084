"""Verifying a storage's chain (SPEC 8.6, S14, S28), optionally against checkpoints.

What the keyed chain protects against, and what it does not (see also
``docs/security-audit-chain.md``):

* **Edits and rewrites.** Event hashes are HMAC-SHA256 under a key derived from the
  server secret. Someone who can write to the database but does not know the secret
  cannot produce a valid hash for an edited, inserted or reordered event, nor
  re-chain the events after it. Writing unkeyed (plain SHA-256) events after keyed
  ones is refused as a downgrade.
* **Removing the oldest events.** Retention leaves an anchor signed with its own
  derived key; an unsigned or forged anchor in front of keyed events is reported.
* **Removing the newest events** leaves a shorter, valid chain that plain verify
  cannot tell from a quieter log. A signed checkpoint kept *outside* the database
  closes that gap up to the checkpoint: ``verify --checkpoint`` fails when the event
  at its ``seq`` is gone or differs. Events newer than the last checkpoint kept
  elsewhere can still be removed unnoticed, so ship checkpoints off the host often.
* **Not covered:** anyone holding the secret (or a server process running with it)
  can rewrite everything; rows written before keying (legacy plain SHA-256, no key
  id) and chains from hosts without a secret are only tamper-evident against
  accidental damage; a database rewritten entirely as legacy events passes plain
  verify and is caught only by a checkpoint; events suppressed before they reach the
  storage are never recorded at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..crypto import constant_time_equals
from ..models import AuditEvent, AuditFilter
from ._canonical import ZERO_HASH, compute_event_hash
from ._chain import AuditCorruptionError
from ._checkpoint import Checkpoint, checkpoint_problem
from ._keys import UNKEYED, ChainKeys

__all__ = ["ChainReport", "verify_chain"]

_NOT_CONFIGURED = (
    "which is not configured (MASTRA_AUTH_SECRET, or MASTRA_AUTH_PREVIOUS_SECRETS after a rotation)"
)


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain`; ``broken_*`` name the first bad event, or the
    failing checkpoint when ``checkpoint`` is true. ``legacy`` counts good events
    verified as unkeyed SHA-256; ``checkpoints`` the checkpoints found extended;
    ``head`` the ``(seq, hash)`` the walk ended on (what a new checkpoint may sign)."""

    ok: bool
    count: int
    broken_seq: int | None = None
    broken_id: str | None = None
    reason: str | None = None
    checkpoint: bool = False
    legacy: int = 0
    checkpoints: int = 0
    head: tuple[int, str] | None = None

    def describe(self) -> str:
        """The CLI line of SPEC 1.4."""
        if self.ok:
            return f"OK {self.count} events"
        if self.checkpoint:
            return f"CHECKPOINT seq {self.broken_seq} {self.reason}"
        where = f" (id {self.broken_id})" if self.broken_id else ""
        return f"BROKEN at seq {self.broken_seq}{where}: {self.reason}"


async def verify_chain(
    storage: Any, *, keys: ChainKeys | None = None, checkpoints: Sequence[Checkpoint] = ()
) -> ChainReport:
    """Walk ``storage`` in ascending ``seq`` from its anchor and report the first seq
    gap, ``prevHash`` mismatch, recomputed-hash mismatch, unknown key, downgrade or
    unreadable row; then that every checkpoint is still extended.

    ``keys`` defaults to the storage's own keyring (``chain_keys``). ``count`` is the
    number of events checked and found good before the break.
    """
    keys = keys if keys is not None else getattr(storage, "chain_keys", None) or UNKEYED
    for cp in checkpoints:
        if (problem := checkpoint_problem(keys, cp)) is not None:
            return ChainReport(False, 0, cp.seq, reason=problem, checkpoint=True)
    walk = _Walk(keys, checkpoints)
    anchor = await storage.chain_anchor()
    if (early := walk.start(anchor)) is not None:
        return early
    rows = _rows(storage)
    try:
        async for event, kid in rows:
            problem = walk.check(event, kid)
            if problem is not None:
                return ChainReport(False, walk.count, event.seq, event.id, problem, legacy=walk.legacy)
            if (missed := walk.match_checkpoints(event.seq, event.hash)) is not None:
                return missed
    except AuditCorruptionError as exc:
        # A row the driver could not decode has no seq of its own: name the next expected one.
        seq = exc.seq if exc.seq is not None else walk.expected_seq
        return ChainReport(False, walk.count, seq, exc.event_id, exc.reason, legacy=walk.legacy)
    finally:
        aclose = getattr(rows, "aclose", None)
        if aclose is not None:
            await aclose()
    return walk.finish()


async def _rows(storage: Any) -> AsyncIterator[tuple[AuditEvent, str | None]]:
    """``(event, key id)`` ascending; storages without key ids yield legacy rows."""
    iter_chain = getattr(storage, "iter_chain", None)
    source = iter_chain() if iter_chain is not None else storage.iter_events(AuditFilter(), ascending=True)
    try:
        async for item in source:
            yield item if isinstance(item, tuple) else (item, None)
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


class _Walk:
    """The verifier's state between rows."""

    def __init__(self, keys: ChainKeys, checkpoints: Sequence[Checkpoint]) -> None:
        self.keys = keys
        self.pending = sorted(checkpoints, key=lambda cp: cp.seq)
        self.expected_seq, self.expected_prev = 1, ZERO_HASH
        self.count = self.legacy = self.extended = 0
        self.keyed_seen = False
        self.unsigned_anchor = False

    def _checkpoint_failure(self, cp: Checkpoint, reason: str) -> ChainReport:
        return ChainReport(False, self.count, cp.seq, reason=reason, checkpoint=True, legacy=self.legacy)

    def start(self, anchor: dict[str, Any] | None) -> ChainReport | None:
        if anchor is None:
            return self.match_checkpoints(0, ZERO_HASH)
        seq, hash_ = int(anchor["seq"]), str(anchor["hash"])
        signed = self.keys.anchor_ok(anchor)
        if signed is False:
            reason = (
                f"the retention anchor is signed under key id {anchor.get('kid')}, {_NOT_CONFIGURED}"
                if self.keys.get(str(anchor.get("kid"))) is None
                else "the retention anchor's signature does not verify (forged anchor)"
            )
            return ChainReport(False, 0, seq, reason=reason)
        self.unsigned_anchor = signed is None
        self.expected_seq, self.expected_prev = seq + 1, hash_
        if self.pending and self.pending[0].seq < seq:
            return self._checkpoint_failure(
                self.pending[0],
                f"cannot be checked: events up to seq {seq} were removed (retention); use a newer checkpoint",
            )
        return self.match_checkpoints(seq, hash_)

    def match_checkpoints(self, seq: int, hash_: str) -> ChainReport | None:
        while self.pending and self.pending[0].seq == seq:
            cp = self.pending.pop(0)
            if not constant_time_equals(cp.hash, hash_):
                return self._checkpoint_failure(
                    cp, "not extended: the event at that seq has a different hash (the log was rewritten)"
                )
            self.extended += 1
        return None

    def check(self, event: AuditEvent, kid: str | None) -> str | None:
        if event.seq != self.expected_seq:
            return f"seq gap: expected {self.expected_seq}, found {event.seq}"
        if not constant_time_equals(event.prev_hash, self.expected_prev):
            return "prevHash does not match the previous event's hash"
        if kid is None:
            if self.keyed_seen:
                return "unkeyed event after keyed events (rewritten without the audit key?)"
            mac_key = None
        else:
            key = self.keys.get(kid)
            if key is None:
                return f"written under audit key id {kid}, {_NOT_CONFIGURED}"
            if self.unsigned_anchor and self.count == 0:
                return "the retention anchor in front of this keyed event is not signed (events removed?)"
            mac_key = key.chain
        try:
            recomputed = compute_event_hash(event.to_json(), mac_key)
        except ValueError as exc:  # rfc8785 refuses the stored values
            return f"event cannot be canonicalised: {exc}"
        if not constant_time_equals(recomputed, event.hash):
            return "hash mismatch: the event was modified after it was written"
        self.keyed_seen = self.keyed_seen or kid is not None
        self.legacy += kid is None
        self.count += 1
        self.expected_seq, self.expected_prev = event.seq + 1, event.hash
        return None

    def finish(self) -> ChainReport:
        if self.pending:
            cp = self.pending[0]
            last = self.expected_seq - 1
            return self._checkpoint_failure(
                cp, f"not extended: the log ends at seq {last} (events after it were removed)"
            )
        head = (self.expected_seq - 1, self.expected_prev)
        return ChainReport(True, self.count, legacy=self.legacy, checkpoints=self.extended, head=head)
