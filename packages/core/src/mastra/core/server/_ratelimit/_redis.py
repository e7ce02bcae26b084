"""Rate-limit store in Redis (``MASTRA_REDIS_URL``), shared by every process and node.

One sorted set per key (``mastra:rl:<key>``): score = the time an entry was taken,
member = its id. The check and the take are one Lua script, so they are atomic on the
server however many nodes ask at once, and the script reads the *server's* clock
(``TIME``): nodes whose clocks disagree still agree on every window. Each take resets
the key's expiry to the window, so the keys of idle IPs and accounts vanish by
themselves. Any Redis error is :class:`RateLimitUnavailable` (the routes fail closed).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ...ee.errors import RateLimitUnavailable
from ...ee.redis import get_redis
from ._limits import Limit, wait_seconds

__all__ = ["RedisStore"]

KEY_PREFIX = "mastra:rl:"

# KEYS[1] the sorted set; ARGV: amount, window seconds, new entry id.
# Returns {1, entry} when taken, {0, score of the entry that makes the window full, now}.
# Times go out as strings: Redis hands Lua numbers to commands with 14 digits, which
# would cut a microsecond timestamp to 0.1 ms.
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local amount = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now - window))
local count = redis.call('ZCARD', KEYS[1])
if count >= amount then
  local blocking = redis.call('ZRANGE', KEYS[1], count - amount, count - amount, 'WITHSCORES')
  return {0, blocking[2], string.format('%.6f', now)}
end
redis.call('ZADD', KEYS[1], string.format('%.6f', now), ARGV[3])
redis.call('PEXPIRE', KEYS[1], window * 1000)
return {1, ARGV[3]}
"""


class RedisStore:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    @staticmethod
    @asynccontextmanager
    async def _unavailable_on_error() -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:  # redis errors, refused connections, timeouts
            raise RateLimitUnavailable() from exc

    async def acquire(self, key: str, limit: Limit) -> str | int:
        async with self._unavailable_on_error():
            client = get_redis(self.redis_url)
            # ``register_script`` runs EVALSHA and loads the script once when the server lacks it.
            script = client.register_script(_ACQUIRE)
            args: list[str | int] = [limit.amount, limit.seconds, uuid.uuid4().hex]
            reply = await script(keys=[KEY_PREFIX + key], args=args)
        if int(reply[0]) == 1:
            entry = reply[1]
            return entry.decode() if isinstance(entry, bytes) else str(entry)
        return wait_seconds(float(reply[1]), limit, float(reply[2]))

    async def release(self, key: str, entry: str) -> None:
        async with self._unavailable_on_error():
            await get_redis(self.redis_url).zrem(KEY_PREFIX + key, entry)

    async def clear(self, key: str) -> None:
        async with self._unavailable_on_error():
            await get_redis(self.redis_url).delete(KEY_PREFIX + key)
