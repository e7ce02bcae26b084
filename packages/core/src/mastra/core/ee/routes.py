"""The ``PluginRoute`` that plugins contribute through ``mastra_ee_routes`` (SPEC 6.5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["PluginRoute"]


@dataclass(frozen=True, slots=True)
class PluginRoute:
    method: str
    path: str  # prefix-relative, e.g. "/auth/workos/webhook"
    endpoint: Callable[..., Awaitable[Any]]  # Starlette endpoint: async (request) -> Response
    requires_auth: bool = True
    # str or list (any-of); ``False`` = authentication only; ``None`` = derive from method + path
    permission: str | list[str] | bool | None = None
    # None = true for unsafe methods; "always" = also without a cookie (credential routes)
    csrf: bool | Literal["always"] | None = None
    # Largest request body in bytes (S25); ``None`` = the core's default (1 MiB). The core
    # streams the body through this cap before the endpoint sees it: over it is 413.
    max_body: int | None = None
    # The OpenAPI document's words for it (the operation's summary and its group).
    summary: str = ""
    tag: str = "plugin"

    @property
    def csrf_protected(self) -> bool:
        if self.csrf is not None:
            return bool(self.csrf)
        return self.method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
