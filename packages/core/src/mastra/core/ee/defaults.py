"""The core's built-in plugin: default providers registered through the same hookspecs
as any third-party plugin (SPEC 6.4 built-in names).

Imports are lazy so that listing plugins never pays for SQLAlchemy models it won't use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .hookspecs import hookimpl

SESSION_PROVIDERS = ("memory", "cookie")
RBAC_PROVIDERS = ("static",)
AUDIT_LOGGERS = ("console",)
AUDIT_STORAGES = ("memory", "sql")


@hookimpl
def mastra_ee_provider_names() -> dict[str, list[str]]:
    return {
        "session": list(SESSION_PROVIDERS),
        "rbac": list(RBAC_PROVIDERS),
        "audit": list(AUDIT_LOGGERS),
        "audit_storage": list(AUDIT_STORAGES),
    }


@hookimpl
def mastra_ee_session_provider(name: str, options: Mapping[str, Any]) -> Any:
    if name == "memory":
        from .sessions import MemorySessionProvider

        return MemorySessionProvider.from_options(options)
    if name == "cookie":
        from .sessions import CookieSessionProvider

        return CookieSessionProvider.from_options(options)
    return None


@hookimpl
def mastra_ee_rbac_provider(name: str, options: Mapping[str, Any]) -> Any:
    if name == "static":
        from .rbac import StaticRBACProvider

        return StaticRBACProvider.from_options(options)
    return None


@hookimpl
def mastra_ee_audit_logger(name: str, options: Mapping[str, Any]) -> Any:
    if name == "console":
        from .audit import ConsoleAuditLogger

        return ConsoleAuditLogger.from_options(options)
    return None


@hookimpl
def mastra_ee_audit_storage(name: str, options: Mapping[str, Any]) -> Any:
    if name == "memory":
        from .audit import MemoryAuditStorage

        return MemoryAuditStorage.from_options(options)
    if name == "sql":
        from .audit import SQLAuditStorage

        return SQLAuditStorage.from_options(options)
    return None
