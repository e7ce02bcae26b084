"""Signed checkpoints of the audit chain (SPEC S28), after certificate transparency's
signed tree heads.

A checkpoint is ``{seq, hash, time}`` plus the key id and an HMAC-SHA256 signature
under the checkpoint key derived from the server secret (:mod:`._keys`). Kept outside
the database (a log collector, a ticket, a printout), it lets ``audit verify
--checkpoint`` prove that the log still *extends* it: the event at ``seq`` still has
that hash, and everything after chains from it. Truncating the newest events, or
rewriting any event up to ``seq``, then fails.

HMAC rather than a signature scheme: whoever checks a checkpoint must also check the
keyed chain, which needs the secret anyway, so a public key would let nobody verify
anything more; a separate derived key keeps checkpoints and chain hashes apart.

:class:`CheckpointTicker` logs one to the ``mastra.audit`` logger every N events or
M minutes, evaluated after appends (a quiet log gets no new checkpoints because its
head has not moved).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..crypto import constant_time_equals
from ..errors import SecretTooShort
from ..models import AuditFilter, Pagination, format_timestamp, utcnow
from ._canonical import ZERO_HASH
from ._keys import ChainKeys

__all__ = [
    "CHECKPOINT_LOG_PREFIX",
    "Checkpoint",
    "CheckpointTicker",
    "checkpoint_problem",
    "head_checkpoint",
    "parse_checkpoints",
    "sign_checkpoint",
]

CHECKPOINT_LOG_PREFIX = "audit checkpoint "
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KID = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    time: str
    kid: str
    sig: str

    def payload(self) -> dict[str, Any]:
        """What the signature covers."""
        return {"seq": self.seq, "hash": self.hash, "time": self.time}

    def to_json(self) -> str:
        """The one-line form ``audit checkpoint`` prints and the server logs."""
        data = {**self.payload(), "kid": self.kid, "sig": self.sig}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Strict parse; ``ValueError`` names what is wrong."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(data, dict) or set(data) != {"seq", "hash", "time", "kid", "sig"}:
            raise ValueError("expected exactly the keys seq, hash, time, kid, sig")
        seq, hash_, time, kid, sig = (data[k] for k in ("seq", "hash", "time", "kid", "sig"))
        if type(seq) is not int or seq < 0:
            raise ValueError("seq must be a non-negative integer")
        if not isinstance(hash_, str) or not _HEX64.fullmatch(hash_):
            raise ValueError("hash must be 64 lowercase hex")
        if not isinstance(time, str) or not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise ValueError("time must be a string and kid 8 lowercase hex")
        if not isinstance(sig, str) or not _HEX64.fullmatch(sig):
            raise ValueError("sig must be 64 lowercase hex")
        return cls(seq, hash_, time, kid, sig)


def sign_checkpoint(keys: ChainKeys, seq: int, hash: str, when: datetime) -> Checkpoint:
    if keys.current is None:
        raise SecretTooShort("signing a checkpoint needs the server secret (MASTRA_AUTH_SECRET)")
    unsigned = Checkpoint(seq, hash, format_timestamp(when), keys.current.kid, "")
    return dataclasses.replace(unsigned, sig=keys.current.sign_checkpoint(unsigned.payload()))


def checkpoint_problem(keys: ChainKeys, checkpoint: Checkpoint) -> str | None:
    """Why ``checkpoint`` is refused, or ``None`` when its signature verifies."""
    key = keys.get(checkpoint.kid)
    if key is None:
        return (
            f"refused: signed under key id {checkpoint.kid}, which is not configured "
            "(MASTRA_AUTH_SECRET, or MASTRA_AUTH_PREVIOUS_SECRETS after a rotation)"
        )
    if not constant_time_equals(key.sign_checkpoint(checkpoint.payload()), checkpoint.sig):
        return "refused: the signature does not verify (forged or edited checkpoint)"
    return None


def parse_checkpoints(text: str) -> list[Checkpoint]:
    """Every non-blank line holds one checkpoint; anything before its first ``{`` (a
    log prefix) is ignored, so lines grepped out of a server log work as they are."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        start = line.find("{")
        try:
            if start < 0:
                raise ValueError("no JSON object")
            found.append(Checkpoint.from_json(line[start:]))
        except ValueError as exc:
            raise ValueError(f"line {number}: not a checkpoint: {exc}") from None
    if not found:
        raise ValueError("no checkpoint found")
    return found


async def head_checkpoint(storage: Any, keys: ChainKeys, when: datetime | None = None) -> Checkpoint:
    """A checkpoint of the newest event (or the retention anchor, or the empty log)."""
    page = await storage.list(AuditFilter(), Pagination(page=0, per_page=1))
    if page.events:
        seq, hash_ = page.events[0].seq, page.events[0].hash
    else:
        anchor = await storage.chain_anchor()
        seq, hash_ = (int(anchor["seq"]), str(anchor["hash"])) if anchor else (0, ZERO_HASH)
    return sign_checkpoint(keys, seq, hash_, when or utcnow())


class CheckpointTicker:
    """Logs a signed checkpoint of the chain head to ``mastra.audit`` when
    ``every_events`` events were appended, or ``every_minutes`` passed, since the last
    one (0 turns either trigger off). :meth:`observe` runs after each committed append
    under the append lock: a counter and a comparison, plus one HMAC when due."""

    def __init__(
        self,
        keys: ChainKeys,
        *,
        every_events: int = 1000,
        every_minutes: float = 5,
        clock: Callable[[], datetime] = utcnow,
        logger: logging.Logger | None = None,
    ) -> None:
        self.keys = keys
        self.every_events = every_events
        self.every = timedelta(minutes=every_minutes) if every_minutes > 0 else None
        self.enabled = keys.keyed and (every_events > 0 or self.every is not None)
        self._clock = clock
        self.logger = logger or logging.getLogger("mastra.audit")
        self._pending = 0
        self._since: datetime | None = None
        self.last: Checkpoint | None = None

    def observe(self, seq: int, hash: str, appended: int) -> None:
        if not self.enabled or appended <= 0:
            return
        now = self._clock()
        if self._since is None:
            self._since = now  # the timer starts with this process's first append
        self._pending += appended
        due = (self.every_events > 0 and self._pending >= self.every_events) or (
            self.every is not None and now - self._since >= self.every
        )
        if not due:
            return
        self.last = sign_checkpoint(self.keys, seq, hash, now)
        self._pending, self._since = 0, now
        self.logger.info("%s%s", CHECKPOINT_LOG_PREFIX, self.last.to_json())
