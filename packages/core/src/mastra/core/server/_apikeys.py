"""API keys in the auth pipeline: who a presented ``mk_`` key is (docs/api-keys.md).

A key arrives as ``Authorization: Bearer mk_…`` or ``x-api-key: mk_…`` (the header is
read only when an ``api_keys`` provider is selected). The provider verifies it; the
owner is then resolved here on every use: a user through the user slot (a disabled
or deleted user is refused), a service account through the provider. The caller's
permissions are the owner's current ones narrowed by the key's scopes
(:meth:`~._authn.Caller.holds` asks both).

Every refusal — malformed, unknown, wrong secret, expired, revoked, wrong IP, disabled
owner — takes a per-IP failure slot (the sign-in window, S7) and answers 401
``{"error":"Invalid API key","message":...}``; an IP whose slots are full gets 429
before its key is looked at. Keys carry no cookie, so CSRF does not apply (SPEC 9.2).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from starlette.requests import HTTPConnection, Request

from ..ee.api_keys import API_KEY_PREFIX, ApiKey, ApiKeyRefusal
from ..ee.cache import TTLCache
from ..ee.errors import AuthError, ProviderUnavailable, RateLimited, RateLimitUnavailable
from ..ee.interfaces import SupportsServiceAccounts, SupportsUserDisable, maybe_await
from ..ee.models import EEUser
from ._authn import Caller
from ._origin import client_ip

if TYPE_CHECKING:
    from ..ee.interfaces import IApiKeyProvider
    from ..ee.provider import MastraAuthProvider
    from ..ee.settings import Settings
    from ._ratelimit import FailureLimiter

__all__ = ["API_KEY_HEADER", "ApiKeyAuthenticator", "presented_api_key"]

logger = logging.getLogger("mastra.server")

API_KEY_HEADER = "x-api-key"


def presented_api_key(request: HTTPConnection, token: str | None) -> str | None:
    """The key a request presents: ``x-api-key`` (whatever it holds: that header means
    an API key), else a bearer token with the ``mk_`` prefix."""
    header = request.headers.get(API_KEY_HEADER)
    if header is not None:
        return header.strip()
    if token is not None and token.startswith(API_KEY_PREFIX):
        return token
    return None


class ApiKeyAuthenticator:
    """Turns a presented key into a :class:`Caller` (or a refusal on one)."""

    def __init__(
        self, auth: MastraAuthProvider, settings: Settings, limiter: FailureLimiter | None = None
    ) -> None:
        self.auth = auth
        self.settings = settings
        self.limiter = limiter
        # IPs with a recent failed key: only they pay for a rate-limit check before
        # verification; a clean IP's request costs no store round trip.
        window = float(limiter.ip_limit.seconds) if limiter is not None else 60.0
        self._failing: TTLCache[str, bool] = TTLCache(ttl=window, max_size=100_000)

    @property
    def provider(self) -> IApiKeyProvider | None:
        return self.auth.api_keys

    async def authenticate(self, request: Request, presented: str) -> Caller:
        provider = self.provider
        caller = Caller(token=presented, request=request)
        if provider is None:
            return caller
        ip = client_ip(request, self.settings)
        ip_key = ip or "unknown"
        if self.limiter is not None and ip_key in self._failing:
            try:
                await self.limiter.check_ip(ip)
            except (RateLimited, RateLimitUnavailable) as refused:
                caller.refusal = refused
                return caller
        try:
            result = await provider.verify(presented, ip)
        except Exception:
            # Never a 500, never a pass: the key could not be checked (database down).
            logger.warning("API key provider failed to verify a key", exc_info=True)
            caller.unavailable = ProviderUnavailable("API key verification is unavailable")
            return caller
        if isinstance(result, ApiKeyRefusal):
            return await self._refuse(caller, ip, result)
        user = await self._owner(result)
        if user is None:
            return await self._refuse(caller, ip, ApiKeyRefusal("owner_disabled", result.id))
        caller.user = user
        caller.api_key = result
        caller.scopes = list(result.scopes)
        return caller

    async def _refuse(self, caller: Caller, ip: str | None, refusal: ApiKeyRefusal) -> Caller:
        error: AuthError = refusal.error()
        if self.limiter is not None:
            self._failing.set(ip or "unknown", True)
            try:
                await self.limiter.ip_failure(ip)
            except RateLimited as limited:
                error = limited
            except RateLimitUnavailable:
                logger.error("rate limit storage failed while counting an API key failure", exc_info=True)
        caller.refusal = error
        return caller

    async def _owner(self, key: ApiKey) -> EEUser | None:
        """The key's owner as a user, or ``None`` when it may no longer act."""
        marks = {
            "tokenType": "apikey",
            "apiKeyId": key.id,
            "apiKeyOwner": {"type": key.owner_type, "id": key.owner_id},
        }
        if key.owner_type == "service_account":
            provider = self.provider
            if not isinstance(provider, SupportsServiceAccounts):
                return None
            account = await provider.get_service_account(key.owner_id)
            if account is None or account.disabled:
                return None
            # ``roles`` is where the static RBAC provider reads a user's roles.
            metadata = {"serviceAccount": True, "roles": list(account.roles), **marks}
            return EEUser(id=account.id, name=account.name, metadata=metadata)
        users = self.auth.user
        if users is None:
            return None
        user = await maybe_await(users.get_user(key.owner_id))
        if user is None:
            return None
        if isinstance(users, SupportsUserDisable) and await maybe_await(
            cast(SupportsUserDisable, users).is_user_disabled(user.id)
        ):
            return None
        return user.model_copy(update={"metadata": {**user.metadata, **marks}})
