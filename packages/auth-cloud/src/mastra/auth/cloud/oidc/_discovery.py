"""OpenID Provider metadata and JWKS, cached (SPEC 10.3).

* Discovery: ``<issuer>/.well-known/openid-configuration``, cached 1 h, failures not
  cached; the document's ``issuer`` must equal the configured issuer exactly
  (a look-alike document cannot redirect us to other endpoints).
* JWKS: cached with a TTL; an unknown ``kid`` triggers one refetch, at most once per
  ``refetch_interval`` (60 s) so a flood of forged ``kid`` values cannot make us
  hammer the IdP.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from joserfc.jwk import KeySet

__all__ = ["DiscoveryError", "OIDCMetadata", "UnknownKeyError"]

logger = logging.getLogger("mastra.auth.cloud.oidc")


class DiscoveryError(Exception):
    """The IdP's metadata or keys could not be fetched or are not acceptable."""


class UnknownKeyError(Exception):
    """No key with the token's ``kid`` even after the permitted refetch."""


class OIDCMetadata:
    def __init__(
        self,
        issuer: str,
        *,
        timeout: float = 10.0,
        ttl: float = 3600.0,
        jwks_ttl: float = 3600.0,
        refetch_interval: float = 60.0,
    ) -> None:
        self.issuer = issuer
        self.timeout = timeout
        self.ttl = ttl
        self.jwks_ttl = jwks_ttl
        self.refetch_interval = refetch_interval
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, KeySet] | None = None
        self._last_forced_refetch = float("-inf")
        self.jwks_fetches = 0  # observable for tests and diagnostics

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    async def _get_json(self, url: str) -> Any:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise DiscoveryError(f"GET {url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise DiscoveryError(f"GET {url} did not return JSON") from exc

    async def get(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._metadata is not None and self._metadata[0] > now:
            return self._metadata[1]
        try:
            data = await self._get_json(self.discovery_url)
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"discovery failed: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise DiscoveryError("discovery document is not an object")
        if data.get("issuer") != self.issuer:
            raise DiscoveryError(
                f"discovery issuer {str(data.get('issuer'))[:200]!r} does not equal the configured issuer"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise DiscoveryError(f"discovery document lacks {key}")
        self._metadata = (now + self.ttl, data)
        return data

    async def _fetch_jwks(self) -> KeySet:
        metadata = await self.get()
        self.jwks_fetches += 1
        try:
            data = await self._get_json(metadata["jwks_uri"])
            keys = KeySet.import_key_set(data)
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"JWKS fetch failed: {type(exc).__name__}") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise DiscoveryError("JWKS document is not a valid key set") from exc
        self._jwks = (time.monotonic() + self.jwks_ttl, keys)
        return keys

    async def keys(self) -> KeySet:
        if self._jwks is not None and self._jwks[0] > time.monotonic():
            return self._jwks[1]
        return await self._fetch_jwks()

    async def key_for(self, kid: str | None, alg: str) -> Any:
        """The verification key for ``kid``; refetches once (rate-limited) when unknown."""
        keys = await self.keys()
        key = _pick(keys, kid, alg)
        if key is not None:
            return key
        now = time.monotonic()
        if now - self._last_forced_refetch < self.refetch_interval:
            raise UnknownKeyError("unknown kid (refetch rate-limited)")
        self._last_forced_refetch = now
        key = _pick(await self._fetch_jwks(), kid, alg)
        if key is None:
            raise UnknownKeyError("unknown kid")
        return key

    def clear(self) -> None:
        self._metadata = None
        self._jwks = None


_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _pick(keys: KeySet, kid: str | None, alg: str) -> Any:
    kty = _KTY.get(alg[:2])
    candidates = [
        k
        for k in keys.keys
        if (kty is None or k.key_type == kty)
        and k.get("use", "sig") == "sig"
        and (k.get("alg") in (None, alg))
    ]
    if kid is not None:
        candidates = [k for k in candidates if k.kid == kid]
    elif len(candidates) != 1:
        return None  # without a kid only an unambiguous single key is acceptable
    return candidates[0] if candidates else None
