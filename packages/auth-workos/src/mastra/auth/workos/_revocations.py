"""Local revocation memory, so a revoked WorkOS session stops working at once.

A sealed ``wos_session`` cookie is self-contained: without this, a cookie captured
before sign-out (or before a directory-sync deactivation) would keep passing local
validation until its access token expires. WorkOS refuses the refresh token of a
revoked session, so entries only need to outlive the access-token lifetime; they are
kept for ``ttl`` seconds (default 24 h, far beyond WorkOS's minutes-long access
tokens) in a bounded, per-process cache. Several workers each learn a revocation when
it happens on them; the access-token expiry bounds what the others accept.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mastra.core.ee.cache import TTLCache

__all__ = ["Revocations"]


class Revocations:
    """``clock`` is wall-clock time: a user cutoff is compared with the session's
    ``auth_time``, which WorkOS gives in epoch seconds."""

    def __init__(
        self, *, ttl: float = 86400.0, max_entries: int = 100_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self._sessions: TTLCache[str, bool] = TTLCache(ttl=ttl, max_size=max_entries, clock=clock)
        # user id -> cutoff: sessions authenticated up to this second are refused
        self._users: TTLCache[str, int] = TTLCache(ttl=ttl, max_size=max_entries, clock=clock)

    def revoke_session(self, sid: str) -> None:
        self._sessions.set(sid, True)

    def revoke_user(self, user_id: str) -> None:
        """Every session of the user authenticated up to now (inclusive) is refused.

        Inclusive at one-second resolution (``auth_time`` is whole seconds): a login in
        the very second of the revocation has to be repeated, never the other way round.
        """
        self._users.set(user_id, int(self.clock()))

    def is_revoked(self, *, sid: str | None, user_id: str | None, auth_time: int | float | None) -> bool:
        if sid is not None and sid in self._sessions:
            return True
        if user_id is not None:
            cutoff = self._users.get(user_id)
            if cutoff is not None and (auth_time is None or auth_time <= cutoff):
                return True
        return False
