"""API keys in the auth pipeline: who a presented ``mk_`` key is (docs/api-keys.md).

A key arrives as ``Authorization: Bearer mk_…`` or ``x-api-key: mk_…`` (the header is
read only when an ``api_keys`` provider is selected). The provider verifies it; the
owner is then resolved here on every use: a user through the user slot (a disabled
or deleted user is refused), a service account through the provider. The caller's
permissions are the owner's current ones narrowed by the key's scopes
(:meth:`~._authn.Caller.holds` asks both).

Every refusal — malformed, unknown, wrong secret, expired, revoked, wrong IP, disabled
owner — takes a slot of the client IP's key-failure window (as large as the sign-in
window, S7, and counted apart from it) and answers 401
``{"error":"Invalid API key","message":...}``; once the window is full, refusals are
429 with ``Retry-After``. A valid key is never blocked: its 256-bit secret leaves
nothing to guess, and a full window must not lock a shared egress IP's good jobs out.
Keys carry no cookie, so CSRF does not apply (SPEC 9.2).

A refusal only the holder of the real secret can get (expired, revoked, wrong IP,
disabled owner) means a leaked or forgotten key is in use: it is audited as
``auth.api-key-use`` / ``failure`` with the key as actor, once per key and reason a
minute per process (a looping job must not flood the log). Guesses are not audited.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import HTTPConnection, Request

from ..ee.api_keys import API_KEY_PREFIX, ApiKey, ApiKeyRefusal
from ..ee.cache import TTLCache
from ..ee.errors import AuthError, ProviderUnavailable, RateLimited, RateLimitUnavailable
from ..ee.interfaces import SupportsServiceAccounts, SupportsUserDisable, maybe_await
from ..ee.models import AuditResource, EEUser
from ._audit import record
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
        # (key id, reason) pairs audited in the last minute.
        self._audited: TTLCache[tuple[str, str], bool] = TTLCache(ttl=60.0, max_size=10_000)

    @property
    def provider(self) -> IApiKeyProvider | None:
        return self.auth.api_keys

    async def authenticate(self, request: Request, presented: str) -> Caller:
        provider = self.provider
        caller = Caller(token=presented, request=request)
        if provider is None:
            return caller
        ip = client_ip(request, self.settings)
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
            refusal = ApiKeyRefusal("owner_disabled", result.id, (result.owner_type, result.owner_id))
            return await self._refuse(caller, ip, refusal)
        caller.user = user
        caller.api_key = result
        caller.scopes = list(result.scopes)
        return caller

    async def _refuse(self, caller: Caller, ip: str | None, refusal: ApiKeyRefusal) -> Caller:
        error: AuthError = refusal.error()
        if refusal.owner is not None and refusal.key_id is not None:
            await self._audit_refusal(caller.request, refusal.key_id, refusal.reason, refusal.owner)
        if self.limiter is not None:
            try:
                await self.limiter.api_key_failure(ip)
            except RateLimited as limited:
                error = limited
            except RateLimitUnavailable:
                logger.error("rate limit storage failed while counting an API key failure", exc_info=True)
        caller.refusal = error
        return caller

    async def _audit_refusal(
        self, request: Request | None, key_id: str, reason: str, owner: tuple[str, str]
    ) -> None:
        if request is None or self._audited.get((key_id, reason)):
            return
        self._audited.set((key_id, reason), True)
        owner_json = {"type": owner[0], "id": owner[1]}
        acting = EEUser(id=owner[1], metadata=_key_marks(key_id, owner_json))
        await record(
            request,
            "auth.api-key-use",
            "failure",
            user=acting,
            resource=AuditResource(type="api_key", id=key_id),
            metadata={"reason": reason},
        )

    async def _owner(self, key: ApiKey) -> EEUser | None:
        """The key's owner as a user, or ``None`` when it may no longer act."""
        marks = _key_marks(key.id, {"type": key.owner_type, "id": key.owner_id})
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


def _key_marks(key_id: str, owner: dict[str, str]) -> dict[str, Any]:
    """What a key's acting user carries: how it authenticated (the audit actor is the key)."""
    return {"tokenType": "apikey", "apiKeyId": key_id, "apiKeyOwner": owner}
