"""Translation of an ``AuditFilter`` to SQL conditions (SPEC 8.6).

Wildcards become ``LIKE ... ESCAPE '\\'`` after escaping ``\\``, ``%`` and ``_``. SQLite's
``LIKE`` ignores ASCII case and cannot use an index, so on SQLite the same pattern is
also given as a ``GLOB`` (case-sensitive, index range on its literal prefix): both
dialects then match exactly what the in-memory glob matcher matches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from ..models import AuditFilter
from ._filters import validate_action_pattern
from ._schema import events_table

__all__ = ["filter_conditions", "glob_literal", "like_literal"]

_t = events_table.c


def like_literal(text: str) -> str:
    """``text`` with the LIKE metacharacters escaped for ``ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def glob_literal(text: str) -> str:
    """``text`` as a literal inside a SQLite GLOB pattern (bracket-quoting ``* ? [``)."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


def _wildcard(column: Any, literals: list[str], *, sqlite: bool) -> list[ColumnElement[bool]]:
    """Match ``literals`` joined by "any run of characters"."""
    conditions = [column.like("%".join(like_literal(p) for p in literals), escape="\\")]
    if sqlite:
        conditions.insert(0, column.op("GLOB")("*".join(glob_literal(p) for p in literals)))
    return conditions


def filter_conditions(audit_filter: AuditFilter, *, sqlite: bool) -> list[ColumnElement[bool]]:
    """``WHERE`` terms for ``audit_filter``; raises ``ValueError`` for a bad pattern."""
    f = audit_filter
    conditions: list[ColumnElement[bool]] = []
    if f.actor_id is not None:
        conditions.append(_t.actor_id == f.actor_id)
    if f.actor_type is not None:
        conditions.append(_t.actor_type == f.actor_type)
    if f.resource_type is not None:
        conditions.append(_t.resource_type == f.resource_type)
    if f.resource_id is not None:
        conditions.append(_t.resource_id == f.resource_id)
    if f.outcome is not None:
        conditions.append(_t.outcome == f.outcome)
    if isinstance(f.action, list):
        if f.action:  # an empty any-of list means "no action filter"
            conditions.append(_t.action.in_(f.action))
    elif f.action is not None:
        if "*" in f.action:
            pattern = validate_action_pattern(f.action)
            conditions.extend(_wildcard(_t.action, pattern.split("*"), sqlite=sqlite))
        else:
            conditions.append(_t.action == f.action)
    if f.action_prefix is not None:
        conditions.extend(_wildcard(_t.action, [f.action_prefix, ""], sqlite=sqlite))
    if f.start_date is not None:
        conditions.append(_t.timestamp >= f.start_date)
    if f.end_date is not None:
        conditions.append(_t.timestamp <= f.end_date)
    return conditions
