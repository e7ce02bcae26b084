"""The permission matcher (SPEC 4.2), compiled once per permission set.

``matches`` is the rule as written. ``PermissionSet`` answers the same question for a
whole grant list: unscoped grants (wildcards included) become one bit mask, scoped
grants a per-id set of ``res:act`` keys, flat strings a set. Required strings are parsed
once per process (bounded cache), not once per check.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["PermissionSet", "compile_permissions", "has_permission", "intersect_permissions", "matches"]

_COMPILED_CACHE_SIZE = 1024
_PARSE_CACHE_LIMIT = 8192


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


# -- the shared, process-wide part of compilation ------------------------------------------
#
# Every unscoped grant key ("res:act", wildcards included) gets a bit. A compiled set keeps
# the OR of its keys' bits; a parsed requirement keeps the OR of its four candidate keys'
# bits. An unscoped check is then one dict hit and one integer AND, touching almost no
# per-set memory (what dominates when thousands of users' sets are in play).

_lock = threading.Lock()
_key_bits: dict[str, int] = {}
_generation = 0

#: required → (mask, key, *:act, res:*, *:*, id or None); () for a flat string. Scoped
#: strings are not stored (only their "res:act" head), so ids never crowd the cache.
_Parsed = tuple[int, str, str, str, str, str | None] | tuple[()]
_parsed: dict[str, _Parsed] = {}


def _bits_for(keys: Iterable[str]) -> int:
    """The mask of ``keys``, assigning bits to new ones (config-driven, so bounded)."""
    global _generation
    mask = 0
    with _lock:
        for key in keys:
            bit = _key_bits.get(key)
            if bit is None:
                bit = _key_bits[key] = 1 << len(_key_bits)
                _generation += 1
                # Cached requirement masks predate this key: drop them.
                _parsed.clear()
            mask |= bit
    return mask


def _parse_required(required: str) -> _Parsed:
    first = required.find(":")
    if first < 0:
        return _remember(required, (), _generation)
    second = required.find(":", first + 1)
    if second >= 0:
        head = required[:second]
        parsed = _parsed.get(head) or _parse_required(head)
        return (*parsed[:5], required[second + 1 :])
    generation = _generation
    res, act = required[:first], required[first + 1 :]
    # Neither part contains a colon, so "res:act" strings stand for the pair exactly.
    keys = (required, f"*:{act}", f"{res}:*", "*:*")
    mask = 0
    for key in keys:
        mask |= _key_bits.get(key, 0)
    return _remember(required, (mask, *keys, None), generation)


def _remember(required: str, parsed: _Parsed, generation: int) -> _Parsed:
    with _lock:
        if generation == _generation:  # else a new key appeared meanwhile: do not cache
            if len(_parsed) >= _PARSE_CACHE_LIMIT:
                # The first path segment is client-chosen; start over rather than grow.
                _parsed.clear()
            _parsed[required] = parsed
    return parsed


class PermissionSet:
    """An immutable, compiled grant list. Build it with :func:`compile_permissions`.

    A check is: the ``*`` flag, the shared parse of ``required``, one integer AND for
    every unscoped grant at once, and for a scoped requirement four look-ups among the
    grants scoped to that id. Flat strings (``legacy-admin``) match by equality only.
    """

    __slots__ = ("_flat", "_mask", "_scoped", "_star", "is_admin", "permissions")

    def __init__(self, permissions: Iterable[str]) -> None:
        perms = tuple(dict.fromkeys(p for p in permissions if isinstance(p, str)))
        self.permissions: tuple[str, ...] = perms
        self._star = "*" in perms
        #: SPEC 4.2 admin bypass: the list holds ``*`` or ``*:*``.
        self.is_admin: bool = self._star or "*:*" in perms
        unscoped: list[str] = []
        flat: set[str] = set()
        scoped: dict[str, set[str]] = {}
        for perm in perms:
            parts = perm.split(":", 2)
            if len(parts) == 2:
                unscoped.append(perm)
            elif len(parts) == 3:
                scoped.setdefault(parts[2], set()).add(f"{parts[0]}:{parts[1]}")
            else:
                flat.add(perm)
        self._flat = frozenset(flat)
        self._mask = _bits_for(unscoped)
        self._scoped = {key: frozenset(value) for key, value in scoped.items()}

    def allows(self, required: str) -> bool:
        if self._star:
            return True
        parsed = _parsed.get(required)
        if parsed is None:
            parsed = _parse_required(required)
        if not parsed:
            return required in self._flat
        if parsed[0] & self._mask:
            return True
        ident = parsed[5]
        if ident is not None and self._scoped:
            keys = self._scoped.get(ident)
            if keys is not None:
                return parsed[1] in keys or parsed[2] in keys or parsed[3] in keys or parsed[4] in keys
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


def intersect_permissions(permissions: Iterable[str], scopes: Iterable[str]) -> list[str]:
    """Grants covered by both lists, for display (an API key's effective permissions):
    each scope the permissions cover, then each permission the scopes cover.

    Exact for the usual shapes (a scope inside the user's grants, or the reverse); a
    pair of crossing wildcards (``agents:*`` and ``*:read``) yields nothing here, so
    checks never use this list: they ask both sets (``Caller.holds``).
    """
    granted, scoped = list(permissions), list(scopes)
    granted_set, scoped_set = compile_permissions(granted), compile_permissions(scoped)
    both = [s for s in scoped if granted_set.allows(s)] + [p for p in granted if scoped_set.allows(p)]
    return list(dict.fromkeys(both))
