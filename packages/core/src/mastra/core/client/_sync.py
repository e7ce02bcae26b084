"""Blocking client: scripts, the CLI and notebooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from ..ee.models import AuditEvent, AuditFilter, AuditPage
from . import _ops as ops
from ._base import ClientBase, ExportTarget, ensure_http
from ._ops import Call, Op, Sleep

__all__ = ["MastraClient"]

T = TypeVar("T")


class MastraClient(ClientBase):
    """``MastraClient("http://127.0.0.1:4111")``; cookies persist in the underlying httpx client.

    Pass ``http_client`` to reuse a configured ``httpx.Client`` (proxies, TLS, a test
    transport); the client then belongs to the caller and :meth:`close` leaves it open.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_prefix: str | None = "/api",
        token: str | None = None,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, api_prefix=api_prefix, token=token, api_key=api_key, headers=headers)
        self._owns_http = http_client is None
        self.http: httpx.Client = ensure_http(http_client, httpx.Client, timeout)
        self._sleep = sleep
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> MastraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    self._sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(self._send(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _send(self, call: Call) -> httpx.Response:
        return self.http.request(call.method, self.url(call.path), **self.request_kwargs(call))

    # -- auth -----------------------------------------------------------------------

    def capabilities(self, *, refresh: bool = False) -> dict[str, Any]:
        """``/auth/capabilities``, cached 60 s; concurrent threads share one request."""
        with self._lock:
            cached = None if refresh else self.cached_capabilities()
            if cached is not None:
                return cached
            return self.store_capabilities(self._run(ops.capabilities()))

    def me(self) -> dict[str, Any] | None:
        return self._run(ops.me())

    def sign_in(self, email: str, password: str) -> dict[str, Any]:
        return self.after_sign_in(self._run(ops.sign_in(email, password)))

    def sign_up(self, email: str, password: str, name: str | None = None) -> dict[str, Any]:
        return self.after_sign_in(self._run(ops.sign_up(email, password, name)))

    def sign_out(self) -> dict[str, Any]:
        result = self._run(ops.sign_out())
        self.token = None
        self.http.cookies.clear()
        self.invalidate()
        return result

    def start_sso(self, redirect: str | None = None) -> str:
        url = self._run(ops.start_sso(redirect))
        self.invalidate()
        return url

    def sessions(self) -> list[dict[str, Any]]:
        return self._run(ops.sessions())

    def revoke_session(self, handle: str) -> bool:
        return self._run(ops.revoke_session(handle))

    def revoke_other_sessions(self) -> int:
        return self._run(ops.revoke_other_sessions())

    # -- permissions ----------------------------------------------------------------

    def has_permission(self, permission: str) -> bool:
        return self.checker(self.capabilities()).has_permission(permission)

    def has_any_permission(self, permissions: list[str]) -> bool:
        return self.checker(self.capabilities()).has_any_permission(permissions)

    def has_all_permissions(self, permissions: list[str]) -> bool:
        return self.checker(self.capabilities()).has_all_permissions(permissions)

    # -- audit ----------------------------------------------------------------------

    def audit_list(
        self,
        filter: AuditFilter | Mapping[str, Any] | None = None,
        *,
        page: int = 0,
        per_page: int = 50,
        **filters: Any,
    ) -> AuditPage:
        return self._run(ops.audit_list(ops.audit_params(filter, **filters), page, per_page))

    def iter_audit_events(
        self, filter: AuditFilter | Mapping[str, Any] | None = None, *, per_page: int = 500, **filters: Any
    ) -> Iterator[AuditEvent]:
        """Every matching event, newest first, page by page."""
        params = ops.audit_params(filter, **filters)
        page = 0
        while True:
            result = self._run(ops.audit_list(params, page, per_page))
            yield from result.events
            if not result.pagination.has_more:
                return
            page += 1

    def audit_get(self, event_id: str) -> AuditEvent:
        return self._run(ops.audit_get(event_id))

    def audit_stats(
        self, filter: AuditFilter | Mapping[str, Any] | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        return self._run(ops.audit_stats(ops.audit_params(filter, **filters)))

    def iter_audit_export(
        self, format: str = "json", filter: AuditFilter | Mapping[str, Any] | None = None, **filters: Any
    ) -> Iterator[bytes]:
        """The export stream of ``/audit/export`` as it arrives (never buffered whole)."""
        params = self.export_params(format, filter, filters)
        with self.http.stream(
            "GET", self.url("/audit/export"), params=tuple(params), headers=self.headers("GET")
        ) as response:
            if not response.is_success:
                response.read()
                ops.check(response, "Failed to export audit logs")
            yield from response.iter_bytes()

    def audit_export(
        self,
        format: str = "json",
        filter: AuditFilter | Mapping[str, Any] | None = None,
        *,
        output: ExportTarget = None,
        **filters: Any,
    ) -> bytes | int:
        """Bytes of the export, or the number of bytes written when ``output`` is given."""
        stream, opened = self.open_target(output)
        if stream is None:
            return b"".join(self.iter_audit_export(format, filter, **filters))
        written = 0
        try:
            for chunk in self.iter_audit_export(format, filter, **filters):
                written += stream.write(chunk)
        finally:
            if opened:
                stream.close()
        return written
