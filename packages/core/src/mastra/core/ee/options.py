"""The ``options`` mapping handed to provider factories (SPEC 6.4).

``build_auth`` calls one factory per capability, so a provider that serves several
capabilities under one name (WorkOS: user, session, sso, rbac, audit) is asked
several times. It must answer with the *same* object each time (the host checks
``session is user`` for providers that own their sessions, and one client means
one cache). :class:`ProviderOptions` is created once per provider name and
composition, and :func:`shared_provider` memoises the instance on it — so sharing
lives in one place instead of a module-level cache in every plugin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

__all__ = ["ProviderOptions", "shared_provider"]

T = TypeVar("T")


class ProviderOptions(Mapping[str, Any]):
    """Read-only options of one provider name for one composition (plus ``_settings``)."""

    __slots__ = ("_data", "_instances", "_lock")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        self._instances: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        shown = {k: ("<settings>" if k == "_settings" else "…") for k in self._data}
        return f"ProviderOptions({shown})"  # values may be secrets: keys only

    def shared(self, factory: Callable[[Mapping[str, Any]], T], key: Any = None) -> T:
        key = factory if key is None else key
        with self._lock:
            if key not in self._instances:
                self._instances[key] = factory(self)
            return self._instances[key]  # type: ignore[no-any-return]


def shared_provider(
    options: Mapping[str, Any], factory: Callable[[Mapping[str, Any]], T], key: Any = None
) -> T:
    """One instance per (composition, provider name, ``key``); ``key`` defaults to ``factory``.

    With a plain mapping (a test calling a hook directly) there is nothing to share
    across calls, and the factory simply runs.
    """
    if isinstance(options, ProviderOptions):
        return options.shared(factory, key)
    return factory(options)
