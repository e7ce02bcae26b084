"""Local revocation memory, so a revoked WorkOS session stops working at once.

A sealed ``wos_session`` cookie is self-contained: without this, a cookie captured
before sign-out (or before a directory-sync deactivation) would keep passing local
validation until its access token expires. WorkOS refuses the refresh token of a
revoked session, so entries only need to outlive the access-token lifetime; they are
kept for ``ttl`` seconds (default 24 h, far beyond WorkOS's minutes-long access
tokens) in a bounded, per-process map. Several workers each learn a revocation when it
happens on them; the access-token expiry bounds what the others accept.
"""

from __future__ import annotations

import time
from collections import OrderedDict

__all__ = ["Revocations"]


class Revocations:
    def __init__(self, *, ttl: float = 86400.0, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._sessions: OrderedDict[str, float] = OrderedDict()  # sid -> forget-after (epoch)
        self._users: OrderedDict[str, tuple[int, float]] = OrderedDict()  # uid -> (cutoff, forget-after)

    def _trim(self, table: OrderedDict[str, object]) -> None:
        while len(table) > self.max_entries:
            table.popitem(last=False)

    def revoke_session(self, sid: str) -> None:
        self._sessions[sid] = time.time() + self.ttl
        self._sessions.move_to_end(sid)
        self._trim(self._sessions)  # type: ignore[arg-type]

    def revoke_user(self, user_id: str) -> None:
        """Every session of the user authenticated up to now (inclusive) is refused.

        Inclusive at one-second resolution (``auth_time`` is whole seconds): a login in
        the very second of the revocation has to be repeated, never the other way round.
        """
        self._users[user_id] = (int(time.time()), time.time() + self.ttl)
        self._users.move_to_end(user_id)
        self._trim(self._users)  # type: ignore[arg-type]

    def is_revoked(self, *, sid: str | None, user_id: str | None, auth_time: int | float | None) -> bool:
        now = time.time()
        if sid is not None:
            until = self._sessions.get(sid)
            if until is not None:
                if until > now:
                    return True
                del self._sessions[sid]
        if user_id is not None:
            entry = self._users.get(user_id)
            if entry is not None:
                cutoff, until = entry
                if until <= now:
                    del self._users[user_id]
                elif auth_time is None or auth_time <= cutoff:
                    return True
        return False
