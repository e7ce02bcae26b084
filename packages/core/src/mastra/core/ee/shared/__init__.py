"""State shared by every process and node of a deployment (issue #14): marks, single-use
ids and the invalidation channel, on the project database or Redis."""

from ._marks import MARKS_TOPIC, SharedMarks
from ._state import AUTH_CACHE_TOPIC, SharedState, open_shared_state
from ._stores import MarkStore, MemoryMarkStore, RedisMarkStore, SQLMarkStore

__all__ = [
    "AUTH_CACHE_TOPIC",
    "MARKS_TOPIC",
    "MarkStore",
    "MemoryMarkStore",
    "RedisMarkStore",
    "SQLMarkStore",
    "SharedMarks",
    "SharedState",
    "open_shared_state",
]
