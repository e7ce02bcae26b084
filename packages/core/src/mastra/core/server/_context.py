"""``EEContext``: what every part of the server reaches through ``app.state.mastra_ee``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..ee.crypto import Sealer, new_secret
from ..ee.errors import ConfigurationError
from ._authn import AuthCache, install_session_memo
from ._ratelimit import FailureLimiter
from ._spec import RouteTable
from ._sso_state import MemoryStateStore, SQLStateStore, StateStore

if TYPE_CHECKING:
    from ..ee.plugins import PluginRegistry
    from ..ee.provider import MastraAuthProvider
    from ..ee.settings import Settings

__all__ = ["EEContext"]

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
    #: Seconds every password-reset request takes, whatever happens (S6).
    reset_delay: float = 0.5
    _state_sealer: Sealer | None = field(default=None, repr=False)

    @property
    def prefix(self) -> str:
        return self.settings.normalised_api_prefix

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
        limiter = FailureLimiter(
            ip=rate.ip,
            account=rate.account,
            sign_up=rate.sign_up,
            storage=rate.storage,
            database_url=settings.database_url,
        )
        store: Any = sso_state_store or "sql"
        if store == "sql":
            store = SQLStateStore(settings.database_url)
        elif store == "memory":
            store = MemoryStateStore()
        elif isinstance(store, str):
            raise ConfigurationError(f"Unknown SSO state store '{store}' (use sql or memory)")
        if auth.session is not None:
            install_session_memo(auth.session)
        return cls(
            auth=auth,
            settings=settings,
            registry=registry,
            table=table,
            limiter=limiter,
            sso_states=store,
            auth_cache=AuthCache(auth_cache_ttl),
            reset_delay=reset_delay,
        )
