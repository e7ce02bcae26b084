"""HTTP calls to the Mastra Cloud API: 10 s timeout, 2 retries on network errors and
5xx with a short exponential backoff, ``X-Project-ID`` on server calls."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

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
        self.retries = retries
        self.backoff = backoff

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
        last_status: int | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                # A client per call: providers outlive event loops in tests and workers.
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    response = await client.post(f"{self.base_url}{path}", json=json, headers=headers)
            except httpx.TransportError as exc:
                logger.warning(
                    "Mastra Cloud %s failed (attempt %d): %s", path, attempt + 1, type(exc).__name__
                )
                last_status = None
                continue
            if response.status_code >= 500:
                last_status = response.status_code
                logger.warning("Mastra Cloud %s answered %d (attempt %d)", path, last_status, attempt + 1)
                continue
            return response
        if last_status is not None:
            raise CloudAPIError(last_status)
        raise CloudNetworkError(f"Mastra Cloud unreachable: {path}")
