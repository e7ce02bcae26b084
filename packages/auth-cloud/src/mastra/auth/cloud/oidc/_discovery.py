"""OpenID Provider metadata and its JWKS, cached (SPEC 10.3).

* Discovery: ``<issuer>/.well-known/openid-configuration``, cached 1 h, failures not
  cached; the document's ``issuer`` must equal the configured issuer exactly
  (a look-alike document cannot redirect us to other endpoints).
* JWKS: the core key cache (:class:`mastra.core.ee.crypto.JWKSCache`: TTL, one
  rate-limited refetch for an unknown ``kid``, last good keys while the IdP is
  unreachable) of the advertised ``jwks_uri``. When discovery itself fails the keys
  cannot be had either: ``JWKSUnavailable``, the same failure as an unreachable JWKS.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from mastra.core.ee.crypto import JWKSCache, JWKSUnavailable

__all__ = ["DiscoveryError", "OIDCMetadata"]


class DiscoveryError(Exception):
    """The IdP's metadata could not be fetched or is not acceptable."""


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
        self.jwks: JWKSCache | None = None  # made once discovery names the jwks_uri

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

    async def signing_keys(self) -> tuple[JWKSCache, list[str]]:
        """The key cache of the advertised ``jwks_uri`` and the advertised ID-token signing
        algorithms (default RS256); ``JWKSUnavailable`` when discovery fails."""
        try:
            metadata = await self.get()
        except DiscoveryError as exc:
            raise JWKSUnavailable(f"OIDC discovery failed: {exc}") from exc
        uri = metadata["jwks_uri"]
        if self.jwks is None or self.jwks.url != uri:
            self.jwks = JWKSCache(
                uri, ttl=self.jwks_ttl, refetch_interval=self.refetch_interval, timeout=self.timeout
            )
        algorithms = metadata.get("id_token_signing_alg_values_supported")
        if not isinstance(algorithms, list) or not algorithms:
            algorithms = ["RS256"]
        return self.jwks, [str(alg) for alg in algorithms]

    def clear(self) -> None:
        self._metadata = None
        self.jwks = None
