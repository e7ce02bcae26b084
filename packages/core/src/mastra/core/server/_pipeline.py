"""The one authentication + authorization path (SPEC 9.2, 11.3, S29).

The auth middleware, ``require_permission`` and the studio all ask the app's
:class:`AuthPipeline` (``EEContext.pipeline``):

* :meth:`AuthPipeline.identify` — who is calling: the cached authentication
  (:mod:`._authcache`; credentials read once, transparent refresh, disabled users
  refused: :mod:`._authn`), then roles and permissions from the RBAC slot when RBAC is
  licensed (an RBAC error leaves none: fail closed);
* :meth:`~AuthPipeline.unauthenticated`, :meth:`~AuthPipeline.check_permission`,
  :meth:`~AuthPipeline.check_route` — may they do it (:mod:`._authz`): ``None``, or
  the :class:`PermissionDenied` carrying the SPEC status and body (each 403 of an
  authenticated caller is audited as ``authz.denied``).

Denials are returned rather than raised so each caller renders them its own way: the
middleware as its response, ``require_permission`` by raising, the studio in its page.
The public auth routes (``/auth/me``, capabilities, logout) use the uncached
:meth:`AuthPipeline.authenticate`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request

from ..ee.errors import ProviderUnavailable
from ..ee.interfaces import SupportsChangeListeners, maybe_await
from ..ee.license import is_feature_licensed
from ..ee.models import EEUser
from ..ee.permissions import intersect_permissions
from ..ee.request_auth import RequestCredentials, bearer_token
from ._apikeys import ApiKeyAuthenticator, presented_api_key
from ._authcache import AuthCache
from ._authn import Caller, authenticate
from ._authz import LICENSE_REQUIRED, PermissionDenied, RouteChecks
from ._origin import client_ip

if TYPE_CHECKING:
    from ..ee.provider import MastraAuthProvider
    from ..ee.settings import Settings
    from ._ratelimit import FailureLimiter

__all__ = [
    "LICENSE_REQUIRED",
    "NOT_CONFIGURED",
    "AuthPipeline",
    "PermissionDenied",
    "remember_caller",
    "remembered_caller",
]

logger = logging.getLogger("mastra.server")

NOT_CONFIGURED = "Authentication is not configured"


def remember_caller(scope: MutableMapping[str, Any], caller: Caller) -> None:
    """Expose the caller to handlers: ``request.state.user``, ``token``, ``roles``,
    ``permissions``, ``session`` (and the whole :class:`Caller` for the guards)."""
    state = scope.setdefault("state", {})
    state.update(
        user=caller.user,
        token=caller.token,
        roles=caller.roles,
        permissions=caller.permissions,
        session=caller.session,
        mastra_caller=caller,
    )


def remembered_caller(request: HTTPConnection) -> Caller | None:
    """The caller the middleware already identified for ``request``, if any."""
    found = request.scope.get("state", {}).get("mastra_caller")
    return found if isinstance(found, Caller) else None


class AuthPipeline(RouteChecks):
    def __init__(
        self,
        auth: MastraAuthProvider,
        settings: Settings,
        cache: AuthCache,
        limiter: FailureLimiter | None = None,
    ) -> None:
        self.auth = auth
        self.settings = settings
        self.cache = cache
        self.api_keys = ApiKeyAuthenticator(auth, settings, limiter)
        if isinstance(auth.api_keys, SupportsChangeListeners):
            # A revoked or rotated key, or a disabled service account, stops at once.
            auth.api_keys.add_change_listener(cache.clear)

    # -- who is calling -------------------------------------------------------------

    def _token(self, request: Request, query_token: bool) -> tuple[str | None, bool]:
        """The presented token, and whether it is an API key for the ``api_keys`` slot."""
        # The settings are consulted only when a query string could carry ``?apiKey=``.
        allowed = (
            query_token and bool(request.scope.get("query_string")) and self.settings.query_token_enabled
        )
        token = bearer_token(request, query_token=allowed)
        if self.auth.api_keys is not None:
            key = presented_api_key(request, token)
            if key is not None:
                return key, True
        return token, False

    async def authenticate(
        self, request: Request, *, refresh: bool = True, sliding: bool = False, query_token: bool = True
    ) -> Caller:
        """Uncached authentication, without roles (the public auth routes)."""
        token, is_key = self._token(request, query_token)
        if is_key and token is not None:
            return await self.api_keys.authenticate(request, token)
        return await self._authenticate(request, token, refresh=refresh, sliding=sliding)

    async def _authenticate(
        self, request: Request, token: str | None, *, refresh: bool = True, sliding: bool = False
    ) -> Caller:
        credentials = await RequestCredentials.read(request, self.auth.session, token=token)
        try:
            return await authenticate(self.auth, request, credentials, refresh=refresh, sliding=sliding)
        except ProviderUnavailable as unavailable:
            logger.warning("identity provider unavailable: %s", unavailable.message)
            caller = Caller(token=credentials.token, session_id=credentials.session_id, request=request)
            caller.unavailable = unavailable
            return caller
        except Exception:
            logger.warning("authentication failed with an error", exc_info=True)
            return Caller(token=credentials.token, session_id=credentials.session_id, request=request)

    async def identify(
        self, request: Request, *, sliding: bool = True, query_token: bool = True, cached: bool = True
    ) -> Caller:
        """Who is calling, with roles and permissions; ``Caller.user`` is ``None`` for nobody.

        ``sliding`` slides the session forward (API routes); ``query_token`` lets
        ``?apiKey=`` authenticate where the settings allow it (not on studio pages);
        ``cached=False`` reads the providers whatever the cache holds (studio pages).
        """
        if self.auth.user is None:
            return Caller(request=request)
        token, is_key = self._token(request, query_token)
        cache = self.cache
        if not cache.enabled or not cached:
            return await self._identify(request, token, sliding, is_key)
        key = self._cache_key(request, token, is_key)
        hit = cache.get(key)
        if hit is not None:
            return hit
        pending = cache.pending(key)
        if pending is not None:
            # Another request is authenticating the same credentials: share its result
            # (a failure, or a revocation meanwhile, sends us through our own check).
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared
        generation = cache.generation
        future = cache.begin(key)
        shared = None
        try:
            caller = await self._identify(request, token, sliding, is_key)
            shared = cache.shareable(caller)
            if shared is not None:
                cache.put(key, shared, generation)
        finally:
            if future is not None:
                cache.finish(key, future, shared if generation == cache.generation else None)
        return caller

    def cached(self, request: Request) -> Caller | None:
        """What :meth:`identify` (defaults) would answer from the cache, or ``None``: the
        middleware's answer for a cache hit, without a coroutine."""
        if self.auth.user is None or not self.cache.enabled:
            return None
        token, is_key = self._token(request, True)
        return self.cache.entry(self._cache_key(request, token, is_key))

    def _cache_key(self, request: Request, token: str | None, is_key: bool) -> str:
        # An API key's answer depends on the client's address (its IP allow-list): the
        # entry is per address, or one accepted request would carry the key to any other.
        return self.cache.key(request, token, client_ip(request, self.settings) if is_key else None)

    async def _identify(
        self, request: Request, token: str | None, sliding: bool, is_key: bool = False
    ) -> Caller:
        if is_key and token is not None:
            caller = await self.api_keys.authenticate(request, token)
        else:
            caller = await self._authenticate(request, token, sliding=sliding)
        if caller.user is not None:
            caller.rbac = self.rbac_enforced
            access = await self.access(caller.user, enforced=caller.rbac)
            if access is not None:
                caller.roles, caller.permissions = access
            if caller.scopes is not None:
                # Recomputed on every use: a demoted owner's keys shrink with them.
                caller.owner_permissions = caller.permissions
                caller.permissions = intersect_permissions(caller.permissions, caller.scopes)
        return caller

    @property
    def rbac_enforced(self) -> bool:
        """Permissions are checked: an RBAC slot is filled and RBAC is licensed."""
        return self.auth.rbac is not None and is_feature_licensed(self.auth, "rbac")

    async def access(
        self, user: EEUser, *, enforced: bool | None = None
    ) -> tuple[list[str], list[str]] | None:
        """``(roles, permissions)`` when RBAC is enforced (``enforced``: already asked of
        :attr:`rbac_enforced` for this request); ``None`` otherwise or on error."""
        rbac = self.auth.rbac
        if rbac is None or not (self.rbac_enforced if enforced is None else enforced):
            return None
        try:
            roles = list(await maybe_await(rbac.get_roles(user)))
            permissions = list(await maybe_await(rbac.get_permissions(user)))
        except Exception:
            logger.warning("RBAC provider failed for user %s", user.id, exc_info=True)
            return None
        return roles, permissions
