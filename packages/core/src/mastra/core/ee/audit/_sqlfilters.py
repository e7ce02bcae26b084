"""Translation of an ``AuditFilter`` to SQL conditions (SPEC 8.6).

Wildcards become ``LIKE ... ESCAPE '\\'`` after escaping ``\\``, ``%`` and ``_``. SQLite's
``LIKE`` ignores ASCII case and cannot use an index, so on SQLite the same pattern is
also given as a ``GLOB`` (case-sensitive, index range on its literal prefix): both
dialects then match exactly what the in-memory glob matcher matches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from ..models import AuditFilter
from ._filters import validate_action_pattern
from ._schema import events_table

__all__ = ["UNINDEXED_COLUMNS", "filter_conditions", "glob_literal", "like_literal"]


class _NoIndex(ColumnElement[Any]):
    """``+column`` on SQLite: the same value, but the planner may not use an index for
    the term. Lets a query walk the ``seq`` index while still filtering on columns
    that have their own (here worse) indexes."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(_NoIndex)
def _render_no_index(element: _NoIndex, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


class _UnindexedColumns:
    def __getattr__(self, name: str) -> _NoIndex:
        return _NoIndex(events_table.c[name])


UNINDEXED_COLUMNS: Any = _UnindexedColumns()


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


def filter_conditions(
    audit_filter: AuditFilter, *, sqlite: bool, columns: Any = None
) -> list[ColumnElement[bool]]:
    """``WHERE`` terms for ``audit_filter``; raises ``ValueError`` for a bad pattern.

    ``columns`` defaults to the events table; the counts table offers the same names
    for the fields it keeps (actor type, action, outcome).
    """
    f = audit_filter
    cols = events_table.c if columns is None else columns
    conditions: list[ColumnElement[bool]] = []
    if f.actor_id is not None:
        conditions.append(cols.actor_id == f.actor_id)
    if f.actor_type is not None:
        conditions.append(cols.actor_type == f.actor_type)
    if f.resource_type is not None:
        conditions.append(cols.resource_type == f.resource_type)
    if f.resource_id is not None:
        conditions.append(cols.resource_id == f.resource_id)
    if f.outcome is not None:
        conditions.append(cols.outcome == f.outcome)
    if isinstance(f.action, list):
        if f.action:  # an empty any-of list means "no action filter"
            conditions.append(cols.action.in_(f.action))
    elif f.action is not None:
        if "*" in f.action:
            pattern = validate_action_pattern(f.action)
            conditions.extend(_wildcard(cols.action, pattern.split("*"), sqlite=sqlite))
        else:
            conditions.append(cols.action == f.action)
    if f.action_prefix is not None:
        conditions.extend(_wildcard(cols.action, [f.action_prefix, ""], sqlite=sqlite))
    if f.start_date is not None:
        conditions.append(cols.timestamp >= f.start_date)
    if f.end_date is not None:
        conditions.append(cols.timestamp <= f.end_date)
    return conditions
