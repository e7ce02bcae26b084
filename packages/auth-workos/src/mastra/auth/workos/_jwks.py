"""Access-token verification against the WorkOS JWKS, without blocking the event loop.

The SDK's ``AsyncSession.authenticate()`` verifies through PyJWT's ``PyJWKClient``,
which fetches with blocking ``urllib`` on the event loop and raises (instead of
answering "invalid") when WorkOS is unreachable. This cache fetches with httpx, keeps
the last good key set when a refetch fails (so sealed sessions keep working while
WorkOS is down), and refetches at most once per ``min_refetch_interval`` when a token
names an unknown ``kid`` (key rotation) — an attacker inventing ``kid`` values
cannot turn each request into a JWKS download.

Every token verified here is used as an access token (callback, refresh, bearer), so a
token carrying ``nonce`` or ``at_hash`` — claims only ID tokens have (OIDC Core 2,
3.1.3.6) — is refused even though WorkOS signed it (SPEC S24).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt
from jwt import PyJWK
from mastra.core.ee.crypto import has_id_token_claims

__all__ = ["JWKSCache", "TokenInvalid"]

logger = logging.getLogger("mastra.auth.workos")


class TokenInvalid(Exception):
    """The token is malformed, badly signed, expired or signed by an unknown key."""


class JWKSCache:
    def __init__(
        self,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        ttl: float = 3600.0,
        min_refetch_interval: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._http = http
        self.ttl = ttl
        self.min_refetch_interval = min_refetch_interval
        self.timeout = timeout
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.fetch_count = 0  # observable by tests

    async def _fetch(self) -> None:
        self.fetch_count += 1
        if self._http is not None:
            response = await self._http.get(self.url, timeout=self.timeout)
        else:
            async with httpx.AsyncClient() as client:
                response = await client.get(self.url, timeout=self.timeout)
        response.raise_for_status()
        keys: dict[str, PyJWK] = {}
        for data in response.json().get("keys", []):
            try:
                key = PyJWK.from_dict(data)
            except jwt.PyJWTError:
                continue  # keys of unsupported types are skipped, not fatal
            if key.key_id:
                keys[key.key_id] = key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _refresh(self, *, force: bool) -> None:
        started = time.monotonic()
        async with self._lock:
            # Concurrent callers share one download: whoever waited on the lock
            # finds the set fetched after it started waiting.
            if self._fetched_at >= started:
                return
            age = time.monotonic() - self._fetched_at
            if self._keys and not force and age < self.ttl:
                return
            if self._keys and force and age < self.min_refetch_interval:
                return
            try:
                await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise TokenInvalid(f"JWKS unavailable: {type(exc).__name__}") from exc
                logger.warning("WorkOS JWKS refetch failed (%s); keeping the cached keys", type(exc).__name__)

    async def key_for(self, kid: str) -> PyJWK:
        if not self._keys or time.monotonic() - self._fetched_at >= self.ttl:
            await self._refresh(force=False)
        key = self._keys.get(kid)
        if key is None:
            await self._refresh(force=True)  # rotation: one refetch, rate limited
            key = self._keys.get(kid)
        if key is None:
            raise TokenInvalid("unknown signing key")
        return key

    async def verify(
        self, token: str, *, issuer: str | None = None, verify_exp: bool = True, leeway: float = 0
    ) -> dict[str, Any]:
        """Claims of an RS256 access token signed by a current WorkOS key; raises
        ``TokenInvalid`` otherwise, ID tokens included."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("malformed token") from exc
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise TokenInvalid("unexpected token header")
        key = await self.key_for(header["kid"])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=issuer,
                leeway=leeway,
                options={"verify_aud": False, "verify_exp": verify_exp, "require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid(type(exc).__name__) from exc
        if has_id_token_claims(claims):
            raise TokenInvalid("ID token presented as an access token")
        return claims
