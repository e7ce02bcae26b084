"""A progress bar on stderr for commands that walk the whole audit log (``audit export``,
``audit verify``): a million events take half a minute.

tqdm with ``disable=None`` draws only when stderr is a terminal, so piped or redirected
runs (and their stdout) are unchanged. The bar counts events as the storage yields them:
the export and the verifier read through :class:`CountingStorage` and stay unaware of it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tqdm import tqdm

__all__ = ["CountingStorage", "counted", "progress_bar"]


def progress_bar(description: str, total: int | None) -> tqdm[Any]:
    """A bar on stderr, hidden when stderr is not a terminal."""
    return tqdm(
        total=total,
        desc=description,
        unit=" events",
        unit_scale=True,
        dynamic_ncols=True,
        file=sys.stderr,
        disable=None,
        leave=False,  # the command's own result line is what stays on screen
        mininterval=0.2,
    )


class CountingStorage:
    """An audit storage whose event iterators advance ``bar``; everything else is the
    wrapped storage's."""

    def __init__(self, storage: Any, bar: tqdm[Any]) -> None:
        self._storage = storage
        self._bar = bar

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    async def iter_events(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in self._storage.iter_events(*args, **kwargs):
            self._bar.update()
            yield event

    async def iter_chain(self) -> AsyncIterator[Any]:
        async for item in self._storage.iter_chain():
            self._bar.update()
            yield item


async def count_events(storage: Any, audit_filter: Any) -> int | None:
    """How many events ``audit_filter`` selects (the bar's total), ``None`` if unknown."""
    from ..ee.models import Pagination

    try:
        page = await storage.list(audit_filter, Pagination(page=0, per_page=1))
    except NotImplementedError:
        return None
    return int(page.pagination.total)


@asynccontextmanager
async def counted(storage: Any, audit_filter: Any, description: str) -> AsyncIterator[Any]:
    """``storage`` as seen through a progress bar of the events ``audit_filter`` selects;
    the count (one query) only when the bar shows."""
    total = await count_events(storage, audit_filter) if sys.stderr.isatty() else None
    with progress_bar(description, total) as bar:
        yield CountingStorage(storage, bar)
