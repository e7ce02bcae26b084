"""Audit filters (SPEC 8.6): validation, the linear-time glob matcher and the
in-memory predicate. SQL translation lives next to the SQL storage.

Action wildcards accept only ``*`` (any run of characters, including none) and match
the **whole** action, case-sensitively. Patterns are capped at 200 characters and 8
``*`` so no input can make matching expensive; no regular expression is ever built
from user input.
"""

from __future__ import annotations

from collections.abc import Callable

from ..models import AuditEvent, AuditFilter

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_PATTERN_STARS",
    "compile_filter",
    "glob_match",
    "validate_action_pattern",
]

MAX_PATTERN_LENGTH = 200
MAX_PATTERN_STARS = 8


def validate_action_pattern(pattern: str) -> str:
    """Return ``pattern`` or raise ``ValueError`` saying which limit it breaks."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"Action pattern is too long ({len(pattern)} characters; the limit is {MAX_PATTERN_LENGTH})"
        )
    stars = pattern.count("*")
    if stars > MAX_PATTERN_STARS:
        raise ValueError(
            f"Action pattern has too many '*' wildcards ({stars}; the limit is {MAX_PATTERN_STARS})"
        )
    return pattern


def glob_match(pattern: str, text: str) -> bool:
    """Whole-string match of a ``*``-only glob in O(len(pattern) + len(text)).

    The pattern splits at ``*`` into literal segments: the first must be a prefix, the
    last a suffix, and the middle ones are found left to right at their leftmost
    occurrence. Leftmost placement is always safe with ``*`` as the only wildcard, so
    there is no backtracking (``str.find`` is itself linear in CPython >= 3.10).
    """
    segments = pattern.split("*")
    if len(segments) == 1:
        return pattern == text
    head, *middle, tail = segments
    if len(head) + len(tail) > len(text) or not text.startswith(head) or not text.endswith(tail):
        return False
    position = len(head)
    end = len(text) - len(tail)
    for segment in middle:
        if not segment:
            continue
        found = text.find(segment, position, end)
        if found < 0:
            return False
        position = found + len(segment)
    return True


def _action_predicate(spec: str | list[str] | None) -> Callable[[str], bool] | None:
    if spec is None:
        return None
    if isinstance(spec, list):
        if not spec:
            return None  # an empty any-of list means "no action filter", like the HTTP API
        wanted = frozenset(spec)
        return wanted.__contains__
    if "*" in spec:
        pattern = validate_action_pattern(spec)
        return lambda action: glob_match(pattern, action)
    return spec.__eq__


def compile_filter(audit_filter: AuditFilter) -> Callable[[AuditEvent], bool]:
    """A predicate equal to the SQL storage's ``WHERE`` clause (raises ``ValueError``
    for an invalid action pattern before anything is scanned)."""
    f = audit_filter
    action_ok = _action_predicate(f.action)
    checks: list[Callable[[AuditEvent], bool]] = []
    if f.actor_id is not None:
        checks.append(lambda e: e.actor.id == f.actor_id)
    if f.actor_type is not None:
        checks.append(lambda e: e.actor.type == f.actor_type)
    if f.resource_type is not None:
        checks.append(lambda e: e.resource is not None and e.resource.type == f.resource_type)
    if f.resource_id is not None:
        checks.append(lambda e: e.resource is not None and e.resource.id == f.resource_id)
    if f.outcome is not None:
        checks.append(lambda e: e.outcome == f.outcome)
    if action_ok is not None:
        checks.append(lambda e: action_ok(e.action))
    if f.action_prefix is not None:
        prefix = f.action_prefix
        checks.append(lambda e: e.action.startswith(prefix))
    if f.start_date is not None:
        start = f.start_date
        checks.append(lambda e: e.timestamp >= start)
    if f.end_date is not None:
        end = f.end_date
        checks.append(lambda e: e.timestamp <= end)
    return lambda event: all(check(event) for check in checks)
