"""``[auth] public`` / ``protected`` path patterns (SPEC 9.2).

Syntax: optional ``METHOD `` prefix, ``*`` = any characters (also ``/``), ``:name`` =
one path segment. A pattern is tried against the prefix-relative path and the full
path, so ``/agents/*`` and ``/api/agents/*`` both work. Built without regular
expressions from user input: each pattern is escaped before wildcards are expanded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PathPattern", "compile_patterns", "matches_any", "relative_to_prefix"]

_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@dataclass(frozen=True)
class PathPattern:
    method: str | None
    regex: re.Pattern[str]
    source: str

    def matches(self, method: str, *paths: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return any(self.regex.fullmatch(p) for p in paths if p is not None)


def _compile(text: str) -> PathPattern:
    raw = text.strip()
    method: str | None = None
    head, sep, rest = raw.partition(" ")
    if sep and head.upper() in _HTTP_METHODS:
        method, raw = head.upper(), rest.strip()
    parts: list[str] = []
    for token in re.split(r"(\*|:[A-Za-z_][A-Za-z0-9_]*)", raw):
        if token == "*":  # noqa: S105 - a wildcard, not a secret
            parts.append(".*")
        elif token.startswith(":") and len(token) > 1:
            parts.append("[^/]+")
        else:
            parts.append(re.escape(token))
    return PathPattern(method, re.compile("".join(parts)), text)


def compile_patterns(patterns: Iterable[str]) -> list[PathPattern]:
    return [_compile(p) for p in patterns if p and p.strip()]


def matches_any(patterns: list[PathPattern], method: str, *paths: str) -> bool:
    if not patterns:  # the usual case, asked on every request
        return False
    return any(p.matches(method, *paths) for p in patterns)


def relative_to_prefix(path: str, prefix: str) -> str | None:
    """``path`` relative to the API ``prefix`` (``/`` for the prefix itself), or ``None``
    when it lies outside; an empty prefix holds every path, unchanged."""
    if not prefix:
        return path
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix) :] or "/"
    return None
