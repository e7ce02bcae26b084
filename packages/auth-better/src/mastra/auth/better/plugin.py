"""Entry point of the ``better`` provider (group ``mastra_ee``, SPEC 6.4).

``better`` serves ``user``, ``credentials`` and ``session``. Every capability asks
for the same options (one ``[auth.options.better]`` table, one settings object), so
the factories share one provider instance per (settings object, option values):
the embedded user provider must be the very object in the session slot for
``session = better`` to use Better Auth's tables, and remote mode must satisfy the
``owns_sessions`` identity check.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from mastra.core.ee import hookimpl

NAME = "better"
_CACHE_SIZE = 16
_instances: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()


def _key(options: Mapping[str, Any]) -> tuple[int, str]:
    values = sorted((k, repr(v)) for k, v in options.items() if k != "_settings")
    return id(options.get("_settings")), repr(values)


def get_provider(options: Mapping[str, Any]) -> Any:
    """The shared ``EmbeddedBetterAuth`` or ``RemoteBetterAuth`` for these options."""
    key = _key(options)
    cached = _instances.get(key)
    # The settings object is kept alive in the entry, so its id cannot be reused meanwhile.
    if cached is not None and cached[0] is options.get("_settings"):
        _instances.move_to_end(key)
        return cached[1]
    mode = str(options.get("mode") or "embedded").strip().lower()
    if mode == "remote":
        from .remote import RemoteBetterAuth

        provider: Any = RemoteBetterAuth.from_options(options)
    else:
        from .embedded import EmbeddedBetterAuth

        provider = EmbeddedBetterAuth.from_options(options)
    _instances[key] = (options.get("_settings"), provider)
    while len(_instances) > _CACHE_SIZE:
        _instances.popitem(last=False)
    return provider


@hookimpl
def mastra_ee_provider_names() -> dict[str, list[str]]:
    return {"user": [NAME], "credentials": [NAME], "session": [NAME]}


@hookimpl
def mastra_ee_user_provider(name: str, options: Mapping[str, Any]) -> Any:
    return get_provider(options) if name == NAME else None


@hookimpl
def mastra_ee_credentials_provider(name: str, options: Mapping[str, Any]) -> Any:
    return get_provider(options) if name == NAME else None


@hookimpl
def mastra_ee_session_provider(name: str, options: Mapping[str, Any]) -> Any:
    return get_provider(options) if name == NAME else None
