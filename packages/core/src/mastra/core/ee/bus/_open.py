"""Which bus a configuration gets."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from ..redis import redis_url_of
from ..settings import Settings
from ._base import InvalidationBus, logger
from ._local import LocalBus
from ._postgres import PostgresBus
from ._redis import RedisBus
from ._sqlite import SQLitePollBus

__all__ = ["open_bus", "publish_once"]


def open_bus(settings: Settings) -> InvalidationBus:
    """Redis URL set → Redis pub/sub; PostgreSQL → ``LISTEN/NOTIFY``; SQLite shared by
    several workers → the polled table; otherwise one process, nothing to tell."""
    redis_url = redis_url_of(settings)
    if redis_url:
        return RedisBus(redis_url)
    backend = make_url(settings.database_url).get_backend_name()
    if backend == "postgresql":
        return PostgresBus(settings.database_url)
    if backend == "sqlite" and settings.workers > 1:
        return SQLitePollBus(settings.database_url)
    return LocalBus()


async def publish_once(settings: Settings, topic: str, data: dict[str, Any] | None = None) -> None:
    """One message from a short-lived process (the CLI): no listener. Never raises."""
    try:
        bus = open_bus(settings)
        if isinstance(bus, LocalBus) and make_url(settings.database_url).get_backend_name() == "sqlite":
            # The CLI cannot know how many workers serve this SQLite file: write to the
            # polled table (a single-process server just never reads it).
            bus = SQLitePollBus(settings.database_url)
        try:
            await bus.publish(topic, data)
        finally:
            await bus.close()
    except Exception:
        logger.exception("Invalidation message for %r not sent", topic)
