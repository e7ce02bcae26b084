"""The one ``AsyncWorkOSClient`` per provider (``base_url`` points tests at an emulator)."""

from __future__ import annotations

from typing import Any

from workos import AsyncWorkOSClient

from ._options import WorkOSOptions

__all__ = ["make_client"]


def make_client(options: WorkOSOptions, *, http_client: Any = None) -> AsyncWorkOSClient:
    """SDK retries are bounded by ``max_retries`` (default 2) and ``request_timeout`` (10 s)
    so a WorkOS outage turns into a prompt error instead of a minute-long hang."""
    return AsyncWorkOSClient(
        api_key=options.api_key,
        client_id=options.client_id,
        base_url=options.base_url,
        request_timeout=options.request_timeout,
        max_retries=options.max_retries,
        jwt_issuer=options.jwt_issuer,
        http_client=http_client,
    )
