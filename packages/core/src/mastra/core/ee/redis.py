"""One Redis client per URL and event loop, for every part that shares state in Redis
(``MASTRA_REDIS_URL``): rate limits, SSO states, revocations, the invalidation channel.

``redis`` is an optional dependency (``mastra-core[redis]``): it is imported only when a
Redis URL is configured, and its absence is a :class:`ConfigurationError` naming the
extra. Clients are bound to the loop that created them (like database engines), so tests
and threaded servers running several loops each get their own.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["close_redis_clients", "get_redis", "redis_url_of"]

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Redis]] = weakref.WeakKeyDictionary()


def redis_url_of(settings: Any) -> str | None:
    """The configured Redis URL in clear (``Settings.redis_url`` is a secret), or ``None``."""
    value = getattr(settings, "redis_url", None)
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text.strip() or None


def _module() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        message = "MASTRA_REDIS_URL needs the Redis client: pip install 'mastra-core[redis]'"
        raise ConfigurationError(message) from exc
    return redis_asyncio


def get_redis(url: str) -> Redis:
    """The client for ``url`` on the running loop (created on first use)."""
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(url)
    if client is None:
        # Short timeouts: a Redis outage must fail requests fast (503), not hang them. A
        # blocking pool: a burst above its size waits for a connection (up to 2 s) instead
        # of failing at once with "Too many connections".
        module = _module()
        pool = module.BlockingConnectionPool.from_url(
            url,
            max_connections=100,
            timeout=2,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=30,
        )
        client = per_loop[url] = module.Redis.from_pool(pool)
    return client


async def close_redis_clients() -> None:
    """Close the running loop's clients (the server's shutdown, after the last request)."""
    loop = asyncio.get_running_loop()
    for client in _clients.pop(loop, {}).values():
        await client.aclose()
