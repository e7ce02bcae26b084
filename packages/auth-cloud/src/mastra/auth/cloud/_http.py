"""HTTP calls to the Mastra Cloud API (SPEC 10.3): 10 s timeout, 2 retries of network
errors, 5xx and 429 (the core retry policy: exponential backoff with jitter), and
``X-Project-ID`` on server calls. Every call goes through one pooled client, closed by
:meth:`CloudHTTP.aclose`."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from mastra.core.ee.pool import PooledClient
from mastra.core.ee.retry import RetryPolicy, TransientResponse, is_transient_error, is_transient_status

__all__ = ["CloudAPIError", "CloudHTTP", "CloudNetworkError"]

logger = logging.getLogger("mastra.auth.cloud")


class CloudNetworkError(Exception):
    """Mastra Cloud could not be reached (after retries)."""


class CloudAPIError(Exception):
    """Mastra Cloud answered 5xx (after retries)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Mastra Cloud answered HTTP {status}")
        self.status = status


class CloudHTTP:
    def __init__(
        self,
        base_url: str,
        project_id: str,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project_id = project_id
        self.timeout = timeout
        self.retry = RetryPolicy(
            attempts=retries + 1,
            # Bounds a request that waits on Cloud: at most two full timeouts, then give up.
            total_timeout=2 * timeout,
            wait_initial=backoff,
            wait_max=max(backoff, 2.0),
        )
        self.pool = PooledClient(lambda: httpx.AsyncClient(timeout=self.timeout))

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def post(
        self,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        token: str | None = None,
        project_header: bool = True,
    ) -> httpx.Response:
        """POST and return the final response; 4xx is returned, 5xx and network
        failures are retried then raised as :class:`CloudAPIError` / :class:`CloudNetworkError`."""
        headers = {"Accept": "application/json"}
        if project_header:
            headers["X-Project-ID"] = self.project_id
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        attempts = 0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            try:
                response = await self.pool.client().post(f"{self.base_url}{path}", json=json, headers=headers)
            except httpx.TransportError as exc:
                logger.warning("Mastra Cloud %s failed (attempt %d): %s", path, attempts, type(exc).__name__)
                raise
            if is_transient_status(response.status_code):
                logger.warning(
                    "Mastra Cloud %s answered %d (attempt %d)", path, response.status_code, attempts
                )
                raise TransientResponse(response.status_code, response)
            return response

        try:
            return await self.retry.call(attempt, transient=is_transient_error)
        except TransientResponse as last:
            if last.status >= 500:
                raise CloudAPIError(last.status) from None
            return last.response  # type: ignore[no-any-return]  # 429 after the last attempt
        except httpx.TransportError as exc:
            raise CloudNetworkError(f"Mastra Cloud unreachable: {path}") from exc
