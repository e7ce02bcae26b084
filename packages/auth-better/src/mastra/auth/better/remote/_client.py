"""HTTP access to a running Better Auth server (remote mode).

Every call carries ``Origin`` (Better Auth rejects untrusted origins with 403
``INVALID_ORIGIN``), a hard timeout (a slow server must not hang a request) and,
when a browser request is being served, its user agent and client IP as
``X-Forwarded-For`` (Better Auth records and rate-limits by it). Transport errors,
timeouts and 5xx become ``ProviderUnavailable`` (HTTP 503 on the credential routes).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
from mastra.core.ee.errors import ProviderUnavailable

from .._options import BetterOptions
from .._request import request_meta

__all__ = ["BetterAuthClient", "BetterResponse"]

logger = logging.getLogger("mastra.auth.better")


class BetterResponse:
    """Status, parsed JSON body (or ``None``), error code and the ``Set-Cookie`` values."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            self.body: Any = response.json() if response.content else None
        except ValueError:
            self.body = None
        self.cookies = response.headers.get_list("set-cookie")
        body = self.body if isinstance(self.body, dict) else {}
        self.code = str(body.get("code") or "")
        self.message = str(body.get("message") or "")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class BetterAuthClient:
    def __init__(self, options: BetterOptions, settings: Any = None) -> None:
        assert options.base_url is not None
        self.base_url = options.base_url
        self.timeout = options.timeout
        self.settings = settings
        parts = urlsplit(options.base_url)
        # Default origin: the Better Auth server's own, which it always trusts.
        self.origin = (options.origin or f"{parts.scheme}://{parts.netloc}").rstrip("/")

    def _client(self) -> httpx.AsyncClient:
        # A client per call: httpx pools are bound to one event loop, and a provider
        # outlives loops (tests, reloads). Loopback/LAN connection setup is cheap.
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), follow_redirects=False, trust_env=False)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        cookie: str | None = None,
        request: Any = None,
    ) -> BetterResponse:
        headers = {"origin": self.origin, "accept": "application/json"}
        if cookie:
            headers["cookie"] = cookie
        meta = request_meta(request, self.settings)
        if "userAgent" in meta:
            headers["user-agent"] = meta["userAgent"]
        if "ip" in meta:
            headers["x-forwarded-for"] = meta["ip"]
        try:
            async with self._client() as client:
                response = await client.request(method, self.base_url + path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            logger.warning("Better Auth server unreachable (%s %s): %s", method, path, type(exc).__name__)
            raise ProviderUnavailable() from exc
        result = BetterResponse(response)
        if result.status >= 500:
            logger.warning("Better Auth server error %s on %s %s", result.status, method, path)
            raise ProviderUnavailable()
        if result.code == "INVALID_ORIGIN" or result.code == "MISSING_OR_NULL_ORIGIN":
            logger.error(
                "Better Auth rejected Origin %s on %s: add it to trustedOrigins of the Better Auth "
                "server or set [auth.options.better] origin",
                self.origin,
                path,
            )
            raise ProviderUnavailable()
        if result.status == 429:
            logger.warning("Better Auth rate-limited %s %s", method, path)
            raise ProviderUnavailable()
        return result
