"""Revocation memory, so a revoked WorkOS session stops working at once — on every node.

A sealed ``wos_session`` cookie is self-contained: without this, a cookie captured
before sign-out (or before a directory-sync deactivation) would keep passing local
validation until its access token expires. WorkOS refuses the refresh token of a
revoked session, so entries only need to outlive the access-token lifetime; they are
kept for ``ttl`` seconds (default 24 h, far beyond WorkOS's minutes-long access tokens).

Checked on every request, so reads are local (:meth:`is_revoked`, after
:meth:`refresh`). Attached to the server's shared state (:meth:`attach`, issue #14), a
revocation is also written to the shared store and every other process and node reloads
it at once; a process that starts later loads the store, and one that cannot trust its
copy (channel down) reads the store before each check. Unattached (standalone use), it
is per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mastra.core.ee.cache import TTLCache

if TYPE_CHECKING:
    from mastra.core.ee.shared import SharedMarks, SharedState

__all__ = ["Revocations"]


class Revocations:
    """``clock`` is wall-clock time: a user cutoff is compared with the session's
    ``auth_time``, which WorkOS gives in epoch seconds."""

    def __init__(
        self, *, ttl: float = 86400.0, max_entries: int = 100_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.ttl = ttl
        self._sessions: TTLCache[str, bool] = TTLCache(ttl=ttl, max_size=max_entries, clock=clock)
        # user id -> cutoff: sessions authenticated up to this second are refused
        self._users: TTLCache[str, int] = TTLCache(ttl=ttl, max_size=max_entries, clock=clock)
        self._shared_sessions: SharedMarks | None = None
        self._shared_users: SharedMarks | None = None

    def attach(self, shared: SharedState) -> None:
        self._shared_sessions = shared.marks("workos-sessions", ttl=self.ttl)
        self._shared_users = shared.marks("workos-users", ttl=self.ttl)

    async def revoke_session(self, sid: str) -> None:
        self._sessions.set(sid, True)
        if self._shared_sessions is not None:
            await self._shared_sessions.set(sid)

    async def revoke_user(self, user_id: str) -> None:
        """Every session of the user authenticated up to now (inclusive) is refused.

        Inclusive at one-second resolution (``auth_time`` is whole seconds): a login in
        the very second of the revocation has to be repeated, never the other way round.
        """
        cutoff = int(self.clock())
        self._users.set(user_id, cutoff)
        if self._shared_users is not None:
            await self._shared_users.set(user_id, str(cutoff))

    async def refresh(self) -> None:
        """Before a check: read the shared store when the local copy cannot be trusted
        (the invalidation channel down, or never started) — slower, never stale."""
        for marks in (self._shared_sessions, self._shared_users):
            if marks is not None:
                await marks.ensure_current()

    def _cutoff(self, user_id: str) -> int | None:
        cutoff = self._users.get(user_id)
        shared = self._shared_users.get(user_id) if self._shared_users is not None else None
        if shared is not None and shared.isdigit():
            cutoff = max(cutoff or 0, int(shared))
        return cutoff

    def is_revoked(self, *, sid: str | None, user_id: str | None, auth_time: int | float | None) -> bool:
        if sid is not None and (
            sid in self._sessions or (self._shared_sessions is not None and self._shared_sessions.get(sid))
        ):
            return True
        if user_id is not None:
            cutoff = self._cutoff(user_id)
            if cutoff is not None and (auth_time is None or auth_time <= cutoff):
                return True
        return False
