"""The request the auth middleware works with: header lookups by one dict access.

The middleware and the auth pipeline ask about half a dozen headers per request
(``origin``, CORS preflight, ``authorization``, ``x-api-key``, ``cookie``...), most
of them absent. Starlette's :class:`~starlette.datastructures.Headers` scans the whole
list for each name and, for an absent one, raises and catches ``KeyError`` inside
``get``: a few microseconds per request on the hottest path (issue #14's cached GET).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request, empty_receive, empty_send
from starlette.types import Receive, Scope, Send

__all__ = ["IndexedHeaders", "IndexedRequest"]


class IndexedHeaders(Headers):
    """:class:`Headers` whose single-value lookups (``get``, ``[]``, ``in``) read a dict
    of the first value of each name, as ``Headers`` answers them; ``getlist``, iteration
    and the raw list are Starlette's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        first: dict[str, str] = {}
        for name, value in self._list:
            key = name.decode("latin-1")
            if key not in first:
                first[key] = value.decode("latin-1")
        self._first = first

    def get(self, key: str, default: Any = None) -> Any:
        return self._first.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._first


class IndexedRequest(Request):
    """A :class:`Request` with :class:`IndexedHeaders`, built with the request: the
    middleware asks for them at once, and ``headers`` is then a C-level attribute read
    (``attrgetter``), not a Python call, for each of its half-dozen lookups."""

    def __init__(self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send) -> None:
        super().__init__(scope, receive, send)
        self._headers = IndexedHeaders(scope=scope)

    headers = property(attrgetter("_headers"))
