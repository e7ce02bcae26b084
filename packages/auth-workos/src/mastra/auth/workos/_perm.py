"""The SPEC 4.2 permission matcher: the core's when present.

``mastra.core.ee.permissions`` is the one matcher of the project; the fallback below
(same rules, for a core that predates that module) keeps this distribution importable
against any ``mastra-core`` that has the EE models.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["has_permission"]

try:  # pragma: no cover - depends on the installed core
    from mastra.core.ee.permissions import has_permission as _core_has_permission
except ImportError:  # pragma: no cover
    _core_has_permission = None


def _split(value: str) -> list[str]:
    return value.split(":", 2)


def _matches(granted: str, required: str) -> bool:
    if granted == "*":
        return True
    g, r = _split(granted), _split(required)
    if len(g) < 2 or len(r) < 2:
        return granted == required
    if g[0] != "*" and g[0] != r[0]:
        return False
    if g[1] != "*" and g[1] != r[1]:
        return False
    if len(g) == 2:
        return True
    return len(r) == 3 and r[2] == g[2]


def has_permission(permissions: Iterable[str], required: str) -> bool:
    perms = list(permissions)
    if _core_has_permission is not None:
        return bool(_core_has_permission(perms, required))
    return any(_matches(p, required) for p in perms)
