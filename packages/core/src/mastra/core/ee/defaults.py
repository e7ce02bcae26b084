"""The core's built-in plugin (``core``): the default providers of SPEC 6.4, declared
with the same :func:`provider_plugin` helper as any third-party plugin.

Factories import their provider on first use, so listing plugins never pays for
SQLAlchemy models it won't use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._declare import ProviderFactory, combine_plugins, provider_plugin
from .options import ProviderOptions

__all__ = ["plugin"]


def _lazy(module: str, cls: str) -> ProviderFactory:
    """``<module>.<cls>.from_options``, imported when a composition first needs it."""

    def create(options: ProviderOptions) -> Any:
        return getattr(importlib.import_module(module, __package__), cls).from_options(options)

    create.__qualname__ = f"{cls}.from_options"
    return create


plugin = combine_plugins(
    provider_plugin("memory", _lazy(".sessions", "MemorySessionProvider"), capabilities=("session",)),
    provider_plugin("cookie", _lazy(".sessions", "CookieSessionProvider"), capabilities=("session",)),
    provider_plugin("static", _lazy(".rbac", "StaticRBACProvider"), capabilities=("rbac",)),
    provider_plugin("console", _lazy(".audit", "ConsoleAuditLogger"), capabilities=("audit",)),
    provider_plugin("memory", _lazy(".audit", "MemoryAuditStorage"), capabilities=("audit_storage",)),
    provider_plugin("sql", _lazy(".audit", "SQLAuditStorage"), capabilities=("audit_storage",)),
    provider_plugin("sql", _lazy(".api_keys", "SQLApiKeyProvider"), capabilities=("api_keys",)),
)
