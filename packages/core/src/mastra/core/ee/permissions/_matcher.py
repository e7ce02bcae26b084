"""The permission matcher (SPEC 4.2), compiled once per permission set.

``matches`` is the rule as written. ``PermissionSet`` answers the same question for a
whole grant list with a handful of set look-ups: exact grants, ``res:act`` pairs with
wildcards, and per-id scoped grants. Its answers are memoised per required string
(bounded), so a hot check is one dict hit.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

__all__ = ["PermissionSet", "compile_permissions", "has_permission", "matches"]

_COMPILED_CACHE_SIZE = 4096
_MEMO_LIMIT = 2048


def matches(granted: str, required: str) -> bool:
    """Does one granted permission cover ``required``? A ``*`` in ``required`` is literal.

    A permission carries an id when it has a second colon (``agents:read:`` has the
    empty id); such a grant covers only that exact id.
    """
    if granted == "*":
        return True
    g = granted.split(":", 2)
    r = required.split(":", 2)
    if len(g) < 2 or len(r) < 2:
        return granted == required
    if g[0] != "*" and g[0] != r[0]:
        return False
    if g[1] != "*" and g[1] != r[1]:
        return False
    if len(g) == 2:
        return True
    return len(r) == 3 and r[2] == g[2]


class PermissionSet:
    """An immutable, compiled grant list. Build it with :func:`compile_permissions`."""

    __slots__ = ("_exact", "_memo", "_scoped", "_star", "_unscoped", "is_admin", "permissions")

    def __init__(self, permissions: Iterable[str]) -> None:
        perms = tuple(dict.fromkeys(p for p in permissions if isinstance(p, str)))
        self.permissions: tuple[str, ...] = perms
        self._star = "*" in perms
        #: SPEC 4.2 admin bypass: the list holds ``*`` or ``*:*``.
        self.is_admin: bool = self._star or "*:*" in perms
        # Any grant equal to the requirement matches it (flat strings match only this way).
        self._exact = frozenset(perms)
        unscoped: set[str] = set()
        scoped: dict[str, set[str]] = {}
        for perm in perms:
            parts = perm.split(":", 2)
            if len(parts) == 2:
                unscoped.add(perm)
            elif len(parts) == 3:
                scoped.setdefault(parts[2], set()).add(f"{parts[0]}:{parts[1]}")
        # Neither part contains a colon, so "res:act" strings stand for the pair exactly.
        self._unscoped = frozenset(unscoped)
        self._scoped = {key: frozenset(value) for key, value in scoped.items()}
        self._memo: dict[str, bool] = {}

    def allows(self, required: str) -> bool:
        if self._star:
            return True
        hit = self._memo.get(required)
        if hit is not None:
            return hit
        result = self._compute(required)
        if len(self._memo) >= _MEMO_LIMIT:
            # Ids make the space of required strings unbounded; start over rather than grow.
            self._memo.clear()
        self._memo[required] = result
        return result

    def _compute(self, required: str) -> bool:
        if required in self._exact:
            return True
        parts = required.split(":", 2)
        if len(parts) < 2:
            return False
        res, act = parts[0], parts[1]
        candidates = (f"{res}:{act}", f"*:{act}", f"{res}:*", "*:*")
        unscoped = self._unscoped
        if any(key in unscoped for key in candidates):
            return True
        if len(parts) == 3:
            scoped = self._scoped.get(parts[2])
            if scoped is not None and any(key in scoped for key in candidates):
                return True
        return False

    def allows_all(self, required: Iterable[str]) -> bool:
        """True for an empty list (SPEC 3.5)."""
        return all(self.allows(p) for p in required)

    def allows_any(self, required: Iterable[str]) -> bool:
        """False for an empty list (SPEC 3.5)."""
        return any(self.allows(p) for p in required)

    def __contains__(self, required: object) -> bool:
        return isinstance(required, str) and self.allows(required)

    def __len__(self) -> int:
        return len(self.permissions)

    def __repr__(self) -> str:
        return f"PermissionSet({list(self.permissions)!r})"


@lru_cache(maxsize=_COMPILED_CACHE_SIZE)
def _compile(key: tuple[str, ...]) -> PermissionSet:
    return PermissionSet(key)


def compile_permissions(permissions: Iterable[str] | PermissionSet) -> PermissionSet:
    """The compiled form of a grant list, shared between equal lists (bounded LRU)."""
    if isinstance(permissions, PermissionSet):
        return permissions
    return _compile(tuple(permissions))


def has_permission(permissions: Iterable[str] | PermissionSet, required: str) -> bool:
    """Any grant in ``permissions`` matches ``required`` (SPEC 4.2)."""
    return compile_permissions(permissions).allows(required)
