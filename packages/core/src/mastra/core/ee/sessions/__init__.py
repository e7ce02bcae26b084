"""Where sessions live (SPEC 8.1–8.3): the ``memory`` and ``cookie`` providers and the
session registry they share.

* :class:`MemorySessionProvider` — opaque secret cookie, sessions in process memory.
* :class:`CookieSessionProvider` — AES-256-GCM sealed cookie checked against a registry.
* :class:`SessionRegistry` — registry contract; :class:`SQLSessionRegistry` (table
  ``mastra_sessions``) and :class:`MemorySessionRegistry`.

Defaults: idle timeout 30 min, absolute lifetime 12 h (S3), cookie ``mastra_session``
(``__Host-mastra_session`` in production).
"""

from ._base import TOUCH_INTERVAL, RegistrySessionProvider
from ._cookie import CookieSessionProvider
from ._memory import PRODUCTION_WARNING, MemorySessionProvider
from ._registry import MemorySessionRegistry, SessionRecord, SessionRegistry
from ._session_cookie import SessionCookie, build_registry
from ._sql import SESSIONS_TABLE, SQLSessionRegistry

__all__ = [
    "PRODUCTION_WARNING",
    "SESSIONS_TABLE",
    "TOUCH_INTERVAL",
    "CookieSessionProvider",
    "MemorySessionProvider",
    "MemorySessionRegistry",
    "RegistrySessionProvider",
    "SQLSessionRegistry",
    "SessionCookie",
    "SessionRecord",
    "SessionRegistry",
    "build_registry",
]
