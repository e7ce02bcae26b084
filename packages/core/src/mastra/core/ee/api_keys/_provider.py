"""``SQLApiKeyProvider`` (provider name ``sql``): the core's ``api_keys`` default.

Verification of a presented key: parse it offline (format and checksum, no database
for random text), then a cache hit or one row read by key id, an HMAC of the secret
compared in constant time, then revocation, expiry, the owner (service accounts here;
users are the host's to check) and the IP allow-list. The cache holds the record of
a key that verified, keyed by key id + HMAC of the presented secret, so a hit costs
one HMAC and a dict read; revocation, rotation and service account changes made by
this process drop it at once, those made by another process apply within
``cache_ttl`` seconds.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..cache import TTLCache
from ..errors import ConfigurationError
from ..models import utcnow
from ..options import as_provider_options
from ..permissions import validate_permission
from ..settings import ApiKeyPolicy
from ..shared import AUTH_CACHE_TOPIC
from ._format import generate_key, parse_key, validate_environment
from ._hashing import KeyHasher
from ._models import ApiKey, ApiKeyRefusal, CreatedApiKey, OwnerType, ServiceAccount
from ._options import SQLApiKeyOptions
from ._store import ApiKeyStore

if TYPE_CHECKING:
    from ..shared import SharedState

__all__ = ["SQLApiKeyProvider"]

logger = logging.getLogger("mastra.ee.api_keys")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowlist(cidrs: Iterable[str]) -> list[str]:
    """Normalised CIDRs (``10.0.0.1`` → ``10.0.0.1/32``); ``ValueError`` names a bad one."""
    parsed: list[str] = []
    for text in cidrs:
        try:
            parsed.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"Invalid CIDR in the IP allow-list: {text!r}") from None
    return parsed


def _owner(key: ApiKey) -> tuple[OwnerType, str]:
    return key.owner_type, key.owner_id


def ip_allowed(networks: Sequence[Network], ip: str | None) -> bool:
    if not networks:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


@dataclass(frozen=True, slots=True)
class _Verified:
    """A cache entry: the record and its allow-list parsed once."""

    key: ApiKey
    networks: tuple[Network, ...]


class SQLApiKeyProvider:
    """API keys and service accounts in SQL tables (SQLite, PostgreSQL)."""

    def __init__(
        self,
        database_url: str,
        *,
        secret: str,
        previous_secrets: Iterable[str] = (),
        environment: str = "dev",
        default_ttl: timedelta = timedelta(days=90),
        max_ttl: timedelta = timedelta(days=365),
        cache_ttl: float = 5.0,
        last_used_interval: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not secret:
            raise ConfigurationError("API keys need MASTRA_AUTH_SECRET (their HMAC key is derived from it)")
        if default_ttl > max_ttl:
            raise ConfigurationError("API keys: the default lifetime exceeds the maximum")
        self.store = ApiKeyStore(database_url)
        self.hasher = KeyHasher(secret, previous_secrets)
        self.environment = validate_environment(environment)
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.last_used_interval = timedelta(seconds=last_used_interval)
        self.clock = clock
        self._cache: TTLCache[str, _Verified] = TTLCache(ttl=cache_ttl, max_size=10_000)
        self._shared: SharedState | None = None
        self._generation = 0  # bumped by every drop of cached verifications
        # Service accounts read when their keys verify: the host builds their user from here.
        self._accounts: TTLCache[str, ServiceAccount] = TTLCache(ttl=cache_ttl, max_size=10_000)
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SQLApiKeyProvider:
        provider_options = as_provider_options(options)
        parsed = provider_options.parse(SQLApiKeyOptions)
        settings = provider_options.settings
        policy: ApiKeyPolicy = settings.auth.api_key_policy
        return cls(
            parsed.database_url,
            secret=settings.secret or "",
            previous_secrets=[s.get_secret_value() for s in settings.auth_previous_secrets],
            environment=policy.environment or ("live" if settings.is_production else "dev"),
            default_ttl=timedelta(days=policy.default_ttl_days),
            max_ttl=timedelta(days=policy.max_ttl_days),
        )

    # -- issuing ---------------------------------------------------------------------------

    def _lifetime(self, ttl: timedelta | None) -> timedelta:
        if ttl is None:
            return self.default_ttl
        if ttl <= timedelta(0):
            raise ValueError("An API key's lifetime must be positive")
        if ttl > self.max_ttl:
            raise ValueError(f"An API key may live at most {self.max_ttl.days} days")
        return ttl

    def _new_key(
        self,
        *,
        owner_type: OwnerType,
        owner_id: str,
        name: str,
        scopes: Sequence[str],
        ttl: timedelta | None,
        ip_allowlist: Sequence[str],
        created_by: str | None,
        now: datetime | None = None,
    ) -> tuple[CreatedApiKey, str]:
        """A checked new key, not yet stored, and its secret's digest; ``now``: the clock
        reading its lifetime was computed from (a second reading would lengthen it)."""
        checked = [validate_permission(scope) for scope in scopes]
        if not checked:
            raise ValueError("An API key needs at least one scope")
        name = name.strip()
        if not name or len(name) > 200:
            raise ValueError("An API key's name must be 1-200 characters")
        now = self.clock() if now is None else now
        text, parts = generate_key(self.environment)
        key = ApiKey(
            id=parts.key_id,
            name=name,
            owner_type=owner_type,
            owner_id=owner_id,
            environment=parts.environment,
            scopes=list(dict.fromkeys(checked)),
            ip_allowlist=parse_allowlist(ip_allowlist),
            created_at=now,
            expires_at=now + self._lifetime(ttl),
            created_by=created_by,
        )
        digest = self.hasher.digest(parts.secret)
        assert digest is not None  # the current kid always exists
        return CreatedApiKey(key=key, secret=text), digest

    async def create_key(
        self,
        owner_type: OwnerType,
        owner_id: str,
        *,
        name: str,
        scopes: Sequence[str],
        ttl: timedelta | None = None,
        ip_allowlist: Sequence[str] = (),
        created_by: str | None = None,
    ) -> CreatedApiKey:
        """A new key; the full key text is in the answer only. ``ttl`` ``None`` = the default."""
        if owner_type == "service_account":
            account = await self.store.find_account(owner_id)
            if account is None or account.disabled:
                raise ValueError("Unknown or disabled service account")
        elif owner_type != "user":
            raise ValueError(f"Unknown owner type {owner_type!r}")
        created, digest = self._new_key(
            owner_type=owner_type,
            owner_id=owner_id,
            name=name,
            scopes=scopes,
            ttl=ttl,
            ip_allowlist=ip_allowlist,
            created_by=created_by or (owner_id if owner_type == "user" else None),
        )
        await self.store.insert_key(created.key, digest, self.hasher.current_kid)
        return created

    async def list_keys(self, owner_type: OwnerType, owner_id: str) -> list[ApiKey]:
        return await self.store.list_keys(owner_type, owner_id)

    async def get_key(self, key_id: str) -> ApiKey | None:
        stored = await self.store.find_key(key_id)
        return stored.key if stored is not None else None

    async def rotate(self, key_id: str, *, grace: timedelta = timedelta(0)) -> CreatedApiKey | None:
        """A new key with the old one's owner, name, scopes, allow-list and lifetime, expiring
        no later than the old one (``min(old.expires_at, now + lifetime)``); the old key
        stays valid for ``grace`` (0 = refused at once). ``None`` if ``key_id`` is
        unknown, revoked or expired."""
        if grace < timedelta(0):
            raise ValueError("The grace period cannot be negative")
        stored = await self.store.find_key(key_id)
        now = self.clock()
        if stored is None or stored.key.refusal_at(now) is not None or stored.key.replaced_by:
            return None
        old = stored.key
        created, digest = self._new_key(
            owner_type=old.owner_type,
            owner_id=old.owner_id,
            name=old.name,
            scopes=old.scopes,
            # Never past the old key's own expiry: rotating cannot extend a key's life.
            ttl=min(old.expires_at - old.created_at, self.max_ttl, old.expires_at - now),
            ip_allowlist=old.ip_allowlist,
            created_by=old.created_by,
            now=now,
        )
        values: dict[str, Any] = {}
        if grace == timedelta(0):
            values["revoked_at"] = now
        else:
            values["expires_at"] = min(old.expires_at, now + grace)
        # Conditional on the old key being still live and unreplaced: a rival rotation or
        # a revocation that committed first makes this one write nothing.
        if not await self.store.replace_key(key_id, created.key, digest, self.hasher.current_kid, **values):
            return None
        self._forget(key_id)
        return created

    async def revoke(self, key_id: str) -> bool:
        """``False`` when the key is unknown or already revoked."""
        if not await self.store.revoke_key(key_id, self.clock()):
            return False
        self._forget(key_id)
        return True

    def _forget(self, key_id: str | None = None) -> None:
        """Drop cached verifications (of ``key_id``, or all) and tell the listeners."""
        self._generation += 1
        if key_id is None:
            self._cache.clear()
            self._accounts.clear()
        else:
            for cache_key in [k for k in self._cache if k.startswith(f"{key_id}:")]:
                self._cache.pop(cache_key)
        for listener in self._listeners:
            listener()

    def attach_shared_state(self, shared: SharedState) -> None:
        """Another node's revoke, rotation or account change drops this node's verified
        keys too (the host publishes ``auth-cache`` after every change it is told of)."""
        self._shared = shared
        shared.bus.subscribe(AUTH_CACHE_TOPIC, lambda _message: self._drop_verified())

    @property
    def _cache_trusted(self) -> bool:
        # A lost invalidation channel means a revocation elsewhere may be unheard.
        return self._shared is None or self._shared.connected

    def _drop_verified(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._accounts.clear()

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # -- verifying -------------------------------------------------------------------------

    async def verify(self, presented: str, ip: str | None) -> ApiKey | ApiKeyRefusal:
        """The key's record if ``presented`` authenticates from ``ip``, else the refusal."""
        parts = parse_key(presented)
        if parts is None:
            return ApiKeyRefusal("malformed")
        digest = self.hasher.digest(parts.secret)
        cache_key = f"{parts.key_id}:{digest}"
        entry = self._cache.get(cache_key) if self._cache_trusted else None
        if entry is None:
            # A change (here or on another node) while the row is read must not leave
            # the record read before it cached for the cache's lifetime.
            generation = self._generation
            stored = await self.store.find_key(parts.key_id)
            if stored is None or stored.key.environment != parts.environment:
                return ApiKeyRefusal("unknown", parts.key_id)
            if not self.hasher.verify(parts.secret, stored.hash_kid, stored.secret_hash):
                return ApiKeyRefusal("wrong_secret", parts.key_id)
            networks = tuple(ipaddress.ip_network(c) for c in stored.key.ip_allowlist)
            entry = _Verified(stored.key, networks)
            if stored.key.owner_type == "service_account":
                account = await self.store.find_account(stored.key.owner_id)
                if account is None or account.disabled:
                    return ApiKeyRefusal("owner_disabled", parts.key_id, _owner(stored.key))
                if generation == self._generation:
                    self._accounts.set(account.id, account)
            if generation == self._generation:
                self._cache.set(cache_key, entry)
        now = self.clock()
        reason = entry.key.refusal_at(now)
        if reason is not None:
            self._cache.pop(cache_key)
            return ApiKeyRefusal(reason, parts.key_id, _owner(entry.key))
        if not ip_allowed(entry.networks, ip):
            return ApiKeyRefusal("ip_not_allowed", parts.key_id, _owner(entry.key))
        await self._touch(entry, now, ip)
        return entry.key

    async def _touch(self, entry: _Verified, now: datetime, ip: str | None) -> None:
        last = entry.key.last_used_at
        if last is not None and now - last < self.last_used_interval:
            return
        # The cached record moves first: concurrent requests of this process see the
        # new time and do not write again.
        entry.key.last_used_at, entry.key.last_used_ip = now, ip
        try:
            await self.store.touch(entry.key.id, now, ip, now - self.last_used_interval)
        except Exception:  # bookkeeping: never refuses a valid key
            logger.warning("could not record the last use of API key %s", entry.key.id, exc_info=True)

    # -- service accounts --------------------------------------------------------------------

    async def create_service_account(
        self, name: str, roles: Sequence[str], *, created_by: str | None = None
    ) -> ServiceAccount:
        name = name.strip()
        if not name or len(name) > 200:
            raise ValueError("A service account's name must be 1-200 characters")
        wanted = [role.strip() for role in roles if role.strip()]
        if not wanted:
            raise ValueError("A service account needs at least one role")
        account = ServiceAccount(
            id=f"sa_{secrets.token_hex(12)}",
            name=name,
            roles=list(dict.fromkeys(wanted)),
            created_by=created_by,
            created_at=self.clock(),
        )
        await self.store.insert_account(account)
        return account

    async def get_service_account(self, account_id: str) -> ServiceAccount | None:
        # Read on every request a service account's key authenticates: served from what
        # ``verify`` just read when it can (dropped with the keys on every change).
        cached = self._accounts.get(account_id) if self._cache_trusted else None
        return cached if cached is not None else await self.store.find_account(account_id)

    async def list_service_accounts(self) -> list[ServiceAccount]:
        return await self.store.list_accounts()

    async def update_service_account(
        self, account_id: str, *, roles: Sequence[str] | None = None, disabled: bool | None = None
    ) -> ServiceAccount | None:
        values: dict[str, Any] = {}
        if roles is not None:
            wanted = [role.strip() for role in roles if role.strip()]
            if not wanted:
                raise ValueError("A service account needs at least one role")
            values["roles"] = list(dict.fromkeys(wanted))
        if disabled is not None:
            values["disabled"] = disabled
        if values and not await self.store.update_account(account_id, **values):
            return None
        self._forget()  # its keys' cached records carry the old state
        return await self.store.find_account(account_id)

    async def delete_service_account(self, account_id: str) -> bool:
        """Deleted for good: its keys are revoked with it."""
        now = self.clock()
        if not await self.store.update_account(account_id, deleted_at=now, disabled=True):
            return False
        await self.store.revoke_owner_keys("service_account", account_id, now)
        self._forget()
        return True

    def clear_cache(self) -> None:
        """Forget every verified key (after a change made outside this provider)."""
        self._forget()
