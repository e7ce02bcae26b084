"""The key set of one JWKS URL, cached (SPEC 10.3); the failure rules are in ``._jwt``.

* The set is downloaded on first use and again once it is ``ttl`` old (1 h); callers
  arriving meanwhile share that one download (:class:`~mastra.core.ee.cache.SingleFlightCache`).
* A token naming a ``kid`` the set lacks triggers one download, so keys rotated at the
  IdP are picked up at once; such downloads happen at most once per
  ``refetch_interval`` (60 s), so a stream of invented ``kid`` values costs the IdP one
  request per interval, not one per token.
* A failed download is not retried for ``refetch_interval``, and the last good set keeps
  answering meanwhile: tokens signed by known keys keep working while the IdP is
  unreachable. ``JWKSUnavailable`` is raised only when there is no set at all, or when
  the download for an unknown ``kid`` fails (the key may be a rotated one we cannot see).
* Only signing keys count (``use`` absent or ``sig``) of the algorithm's family (RSA
  for ``RS*``/``PS*``, EC for ``ES*``, OKP for EdDSA), whose ``alg``, when present, is
  the token's. ``oct`` keys are dropped on import (a public HMAC key signs for anyone),
  as are keys joserfc cannot read. A token without ``kid`` needs a set with exactly one
  such key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from ..cache import SingleFlightCache
from ._jwt import JWKSUnavailable, TokenInvalid

__all__ = ["JWKSCache", "select_key"]

logger = logging.getLogger("mastra.ee.jwks")

_FAMILIES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_OKP_ALGORITHMS = frozenset({"EdDSA", "Ed25519"})


def _key_type(alg: str) -> str | None:
    return "OKP" if alg in _OKP_ALGORITHMS else _FAMILIES.get(alg[:2])


def select_key(keys: Iterable[Key], kid: str | None, alg: str) -> Key | None:
    """The key of ``keys`` that verifies an ``alg`` token naming ``kid``, if exactly one does."""
    kty = _key_type(alg)
    candidates = [
        key
        for key in keys
        if kty is not None
        and key.key_type == kty
        and key.get("use", "sig") == "sig"
        and key.get("alg") in (None, alg)
        and (kid is None or key.kid == kid)
    ]
    if kid is None and len(candidates) != 1:
        return None  # without a kid only an unambiguous key is acceptable
    return candidates[0] if candidates else None


def _import_keys(entries: list[Any]) -> tuple[Key, ...]:
    keys: list[Key] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") == "oct":
            continue
        try:
            keys.append(JWKRegistry.import_key(entry))
        except (JoseError, ValueError, TypeError, KeyError):
            continue  # a key type or curve we cannot use is skipped, not fatal
    return tuple(keys)


class JWKSCache:
    """The keys published at ``url`` (a :class:`~mastra.core.ee.crypto.KeySource`).

    ``fetches`` counts download attempts (tests, diagnostics). ``http``: a pooled client
    to download with; without one each download opens its own.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 3600.0,
        refetch_interval: float = 60.0,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self.clock = clock
        self._http = http
        self._sets: SingleFlightCache[tuple[Key, ...]] = SingleFlightCache(ttl=ttl, max_size=1, clock=clock)
        self._last_good: tuple[Key, ...] | None = None
        self._failed_at = float("-inf")
        self._refetched_at = float("-inf")
        self.fetches = 0

    @property
    def ttl(self) -> float | None:
        return self._sets.ttl

    @ttl.setter
    def ttl(self, seconds: float) -> None:
        self._sets.ttl = seconds

    async def key_for(self, kid: str | None, alg: str) -> Key:
        """The key for a token's ``kid``/``alg``; one rate-limited download when unknown."""
        key = select_key(await self._current(), kid, alg)
        if key is not None:
            return key
        now = self.clock()
        if now - self._refetched_at < self.refetch_interval:
            raise TokenInvalid("unknown signing key")
        self._refetched_at = now
        self._sets.invalidate(self.url)
        key = select_key(await self._sets.get(self.url, self._download), kid, alg)
        if key is None:
            raise TokenInvalid("unknown signing key")
        return key

    def clear(self) -> None:
        """Forget every key (the next token downloads the set)."""
        self._sets.invalidate()
        self._last_good = None

    async def _current(self) -> tuple[Key, ...]:
        try:
            return await self._sets.get(self.url, self._download)
        except JWKSUnavailable:
            if self._last_good is None:
                raise
            return self._last_good  # the IdP is unreachable: known keys keep working

    async def _download(self) -> tuple[Key, ...]:
        if self.clock() - self._failed_at < self.refetch_interval:
            raise JWKSUnavailable("JWKS download failed moments ago; not retried yet")
        self.fetches += 1
        try:
            keys = await self._fetch()
        except JWKSUnavailable as exc:
            self._failed_at = self.clock()
            logger.warning("JWKS download from %s failed: %s", self.url, exc.reason)
            raise
        self._failed_at = float("-inf")
        self._last_good = keys
        return keys

    async def _fetch(self) -> tuple[Key, ...]:
        headers = {"Accept": "application/json"}
        try:
            if self._http is not None:
                response = await self._http.get(self.url, headers=headers, timeout=self.timeout)
            else:
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    response = await client.get(self.url, headers=headers)
        except httpx.HTTPError as exc:
            raise JWKSUnavailable(f"JWKS endpoint unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise JWKSUnavailable(f"JWKS endpoint answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError as exc:
            raise JWKSUnavailable("JWKS endpoint did not answer JSON") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise JWKSUnavailable("JWKS document is not a key set")
        return _import_keys(document["keys"])

    def __repr__(self) -> str:
        return f"<JWKSCache {self.url!r} fetches={self.fetches}>"
