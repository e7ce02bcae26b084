"""The invalidation channel (issue #14): a change to auth state made on one node (sign-out,
session revoke, user disable, role change, password reset) reaches every other node's
caches at once, instead of after their TTL.

* :class:`InvalidationBus` — the contract; ``connected`` False means messages may be
  missed, so callers treat caches as TTL 0 until ``on_state(True)``, then clear them.
* :class:`PostgresBus` — ``LISTEN/NOTIFY`` on ``mastra_ee``.
* :class:`RedisBus` — pub/sub on ``mastra:ee`` (``MASTRA_REDIS_URL``).
* :class:`SQLitePollBus` — a table polled every 50 ms (several workers, one host).
* :class:`LocalBus` — one process: nothing to tell.

:func:`open_bus` picks one from the settings; :func:`publish_once` sends one message
from a process that does not listen (the CLI).
"""

from ._base import CHANNEL, MAX_PAYLOAD_BYTES, Handler, InvalidationBus, StateHandler
from ._local import LocalBus
from ._open import open_bus, publish_once
from ._postgres import PostgresBus
from ._redis import REDIS_CHANNEL, RedisBus
from ._sqlite import INVALIDATIONS_TABLE, SQLitePollBus

__all__ = [
    "CHANNEL",
    "INVALIDATIONS_TABLE",
    "MAX_PAYLOAD_BYTES",
    "REDIS_CHANNEL",
    "Handler",
    "InvalidationBus",
    "LocalBus",
    "PostgresBus",
    "RedisBus",
    "SQLitePollBus",
    "StateHandler",
    "open_bus",
    "publish_once",
]
