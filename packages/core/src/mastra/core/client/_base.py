"""Configuration shared by :class:`MastraClient` and :class:`AsyncMastraClient`."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from ..ee.models import AuditFilter
from ._ops import EXPORT_FORMATS, Call, audit_params, normalise_prefix
from ._permissions import PermissionChecker, permission_checker

__all__ = ["CAPABILITIES_TTL", "ClientBase", "ExportTarget"]

CAPABILITIES_TTL = 60.0
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ExportTarget = str | os.PathLike[str] | IO[bytes] | None


class ClientBase:
    def __init__(
        self,
        base_url: str,
        *,
        api_prefix: str | None = "/api",
        token: str | None = None,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if token and api_key:
            raise ValueError("pass either token= or api_key=, not both")
        self.base_url = base_url.rstrip("/")
        self.api_prefix = normalise_prefix(api_prefix)
        self.token = token
        #: An API key (``mk_…``, docs/api-keys.md): sent as ``Authorization: Bearer``, kept
        #: across sign-out (it is not a session), never exchanged for a cookie.
        self.api_key = api_key
        self.extra_headers = dict(headers or {})
        parts = urlsplit(self.base_url)
        # Cookie-authenticated unsafe requests need a matching Origin (SPEC 9.2 CSRF).
        self.origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
        self._capabilities: tuple[float, dict[str, Any]] | None = None

    def url(self, path: str) -> str:
        return f"{self.base_url}{self.api_prefix}{path}"

    def headers(self, method: str) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.extra_headers}
        credential = self.api_key or self.token
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        if method.upper() in _UNSAFE and self.origin and "Origin" not in headers:
            headers["Origin"] = self.origin
        return headers

    def request_kwargs(self, call: Call) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers(call.method)}
        if call.params:
            kwargs["params"] = call.params
        if call.json is not None:
            kwargs["json"] = call.json
        return kwargs

    # -- caching and bookkeeping ------------------------------------------------------

    def cached_capabilities(self) -> dict[str, Any] | None:
        if self._capabilities and time.monotonic() - self._capabilities[0] < CAPABILITIES_TTL:
            return self._capabilities[1]
        return None

    def store_capabilities(self, value: dict[str, Any]) -> dict[str, Any]:
        self._capabilities = (time.monotonic(), value)
        return value

    def invalidate(self) -> None:
        """Forget cached capabilities (after sign-in, sign-up, sign-out, SSO start)."""
        self._capabilities = None

    def after_sign_in(self, result: dict[str, Any]) -> dict[str, Any]:
        token = result.get("token")
        if isinstance(token, str) and token:
            self.token = token
        self.invalidate()
        return result

    @staticmethod
    def checker(capabilities: Mapping[str, Any]) -> PermissionChecker:
        return permission_checker(capabilities)

    @staticmethod
    def export_params(
        format: str, filter: AuditFilter | Mapping[str, Any] | None, filters: dict[str, Any]
    ) -> list[tuple[str, str]]:
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        return [*audit_params(filter, **filters), ("format", format)]

    @staticmethod
    def open_target(output: ExportTarget) -> tuple[IO[bytes] | None, bool]:
        """(stream, opened_here): paths are opened (and later closed) by the client."""
        if output is None:
            return None, False
        if isinstance(output, (str, os.PathLike)):
            return Path(output).open("wb"), True
        return output, False


def ensure_http(http: httpx.Client | httpx.AsyncClient | None, factory: Any, timeout: float) -> Any:
    return http if http is not None else factory(timeout=timeout, follow_redirects=False)
