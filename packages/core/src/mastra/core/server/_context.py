"""``EEContext``: what every part of the server (and a plugin's routes) works with.

The app keeps it at ``app.state.mastra_ee``; code serving a request reaches it with
:func:`ee_context`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..ee.cache import SingleFlightCache
from ..ee.crypto import Sealer, new_secret
from ..ee.errors import ConfigurationError
from ..ee.interfaces import SupportsSharedState
from ..ee.redis import redis_url_of
from ..ee.shared import SharedState, open_shared_state
from ._authcache import AuthCache
from ._origin import public_origin
from ._pipeline import AuthPipeline
from ._ratelimit import FailureLimiter
from ._spec import RouteTable
from ._sso_state import MemoryStateStore, RedisStateStore, SQLStateStore, StateStore

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from ..ee.plugins import PluginRegistry
    from ..ee.provider import MastraAuthProvider
    from ..ee.settings import Settings

__all__ = ["EEContext", "ee_context"]

logger = logging.getLogger("mastra.server")


@dataclass
class EEContext:
    auth: MastraAuthProvider
    settings: Settings
    registry: PluginRegistry | None
    table: RouteTable
    limiter: FailureLimiter
    sso_states: StateStore
    auth_cache: AuthCache
    #: The one authentication + authorization path (middleware, guards, studio).
    pipeline: AuthPipeline
    #: Seconds every password-reset request takes, whatever happens (S6).
    reset_delay: float = 0.5
    #: ``GET /system/ready`` answers (check name → passed), shared by concurrent probes and
    #: reused for a second: a public probe, answered for any Host, cannot be turned into
    #: a database query and a provider call per request.
    readiness: SingleFlightCache[dict[str, bool]] = field(
        default_factory=lambda: SingleFlightCache(ttl=1.0, max_size=1), repr=False
    )
    #: State shared by every process and node (issue #14): the invalidation channel that
    #: carries auth-cache clears, and what providers keep in it (revocations, replay ids).
    shared: SharedState | None = field(default=None, repr=False)
    _state_sealer: Sealer | None = field(default=None, repr=False)

    async def start(self) -> None:
        """Connect the shared state: the app's startup (``mount_ee``/``create_app``
        lifespan). An app whose lifespan never runs stays unconnected: caches then serve
        nothing on a multi-process backend (safe, slower) and nothing is published."""
        if self.shared is not None:
            await self.shared.start()

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    @property
    def prefix(self) -> str:
        return self.settings.normalised_api_prefix

    def public_origin(self, request: HTTPConnection) -> str:
        """The SPEC 9.1 public origin of ``request`` (``MASTRA_PUBLIC_URL`` when set)."""
        return str(public_origin(request, self.settings))

    @property
    def state_sealer(self) -> Sealer:
        """``Sealer(secret, info="sso-state")``; dev without a secret gets a per-process one."""
        if self._state_sealer is None:
            secret = self.settings.secret
            if not secret:
                if self.settings.is_production:
                    raise ConfigurationError("MASTRA_AUTH_SECRET is required for single sign-on")
                logger.warning("MASTRA_AUTH_SECRET is not set; SSO state uses a per-process key")
                secret = new_secret(36)
            self._state_sealer = Sealer(secret, info="sso-state")
        return self._state_sealer

    @classmethod
    def create(
        cls,
        auth: MastraAuthProvider,
        settings: Settings,
        registry: PluginRegistry | None,
        table: RouteTable,
        *,
        sso_state_store: str | StateStore | None = None,
        auth_cache_ttl: float = 0.0,
        reset_delay: float = 0.5,
    ) -> EEContext:
        rate = settings.auth.rate_limit
        redis_url = redis_url_of(settings)
        limiter = FailureLimiter(
            ip=rate.ip,
            account=rate.account,
            sign_up=rate.sign_up,
            storage=rate.storage,
            database_url=settings.database_url,
            redis_url=redis_url,
            workers=settings.workers,
        )
        store: Any = sso_state_store or ("redis" if redis_url else "sql")
        if store == "sql":
            store = SQLStateStore(settings.database_url)
        elif store == "memory":
            store = MemoryStateStore()
        elif store == "redis" and redis_url:
            store = RedisStateStore(redis_url)
        elif isinstance(store, str):
            message = f"Unknown SSO state store '{store}' (use sql, memory, or redis with MASTRA_REDIS_URL)"
            raise ConfigurationError(message)
        cache = AuthCache(auth_cache_ttl)
        shared = open_shared_state(settings)
        cache.attach(shared)
        for provider in {id(p): p for p in auth.slots().values() if p is not None}.values():
            if isinstance(provider, SupportsSharedState):
                provider.attach_shared_state(shared)
        return cls(
            auth=auth,
            settings=settings,
            registry=registry,
            table=table,
            limiter=limiter,
            sso_states=store,
            auth_cache=cache,
            pipeline=AuthPipeline(auth, settings, cache, limiter),
            reset_delay=reset_delay,
            shared=shared,
        )


def ee_context(request: HTTPConnection) -> EEContext:
    """The :class:`EEContext` of the app serving ``request``.

    For plugin routes (``mastra_ee_routes``) this is the way to the host: the composed
    provider (``.auth``, e.g. ``ee_context(request).auth.user``), the settings
    (``.settings``), the plugin registry, the API prefix and the auth pipeline. On
    authenticated routes the caller is already in ``request.state`` (``user``,
    ``roles``, ``permissions``, ``session``)::

        async def endpoint(request):
            ctx = ee_context(request)
            provider = ctx.auth.user
            ...

    Raises :class:`~mastra.core.ee.errors.ConfigurationError` when the app never called
    ``mount_ee`` / ``create_app``.
    """
    ctx = find_ee_context(request)
    if ctx is None:
        raise ConfigurationError("No Mastra EE context on this app: call mount_ee(app) first")
    return ctx


def find_ee_context(request: HTTPConnection) -> EEContext | None:
    """:func:`ee_context`, or ``None`` for an app without one (the fail-closed guards)."""
    ctx = getattr(request.app.state, "mastra_ee", None)
    return ctx if isinstance(ctx, EEContext) else None
