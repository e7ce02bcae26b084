"""Asynchronous client with the same operations as :class:`MastraClient`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from ..ee.models import AuditEvent, AuditFilter, AuditPage
from . import _ops as ops
from ._base import ClientBase, ExportTarget, ensure_http
from ._ops import Call, Op, Sleep

__all__ = ["AsyncMastraClient"]

T = TypeVar("T")


class AsyncMastraClient(ClientBase):
    """``async with AsyncMastraClient(url) as client: await client.sign_in(...)``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_prefix: str | None = "/api",
        token: str | None = None,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(base_url, api_prefix=api_prefix, token=token, api_key=api_key, headers=headers)
        self._owns_http = http_client is None
        self.http: httpx.AsyncClient = ensure_http(http_client, httpx.AsyncClient, timeout)
        self._sleep = sleep
        self._in_flight: asyncio.Future[dict[str, Any]] | None = None

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncMastraClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(await self._send(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _send(self, call: Call) -> httpx.Response:
        return await self.http.request(call.method, self.url(call.path), **self.request_kwargs(call))

    # -- auth -----------------------------------------------------------------------

    async def capabilities(self, *, refresh: bool = False) -> dict[str, Any]:
        """``/auth/capabilities``, cached 60 s; concurrent callers share one request."""
        cached = None if refresh else self.cached_capabilities()
        if cached is not None:
            return cached
        if self._in_flight is not None and not refresh:
            return await asyncio.shield(self._in_flight)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._in_flight = future
        try:
            value = self.store_capabilities(await self._run(ops.capabilities()))
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            if self._in_flight is future:
                self._in_flight = None

    async def me(self) -> dict[str, Any] | None:
        return await self._run(ops.me())

    async def sign_in(self, email: str, password: str) -> dict[str, Any]:
        return self.after_sign_in(await self._run(ops.sign_in(email, password)))

    async def sign_up(self, email: str, password: str, name: str | None = None) -> dict[str, Any]:
        return self.after_sign_in(await self._run(ops.sign_up(email, password, name)))

    async def sign_out(self) -> dict[str, Any]:
        result = await self._run(ops.sign_out())
        self.token = None
        self.http.cookies.clear()
        self.invalidate()
        return result

    async def start_sso(self, redirect: str | None = None) -> str:
        url = await self._run(ops.start_sso(redirect))
        self.invalidate()
        return url

    async def sessions(self) -> list[dict[str, Any]]:
        return await self._run(ops.sessions())

    async def revoke_session(self, handle: str) -> bool:
        return await self._run(ops.revoke_session(handle))

    async def revoke_other_sessions(self) -> int:
        return await self._run(ops.revoke_other_sessions())

    # -- permissions ----------------------------------------------------------------

    async def has_permission(self, permission: str) -> bool:
        return self.checker(await self.capabilities()).has_permission(permission)

    async def has_any_permission(self, permissions: list[str]) -> bool:
        return self.checker(await self.capabilities()).has_any_permission(permissions)

    async def has_all_permissions(self, permissions: list[str]) -> bool:
        return self.checker(await self.capabilities()).has_all_permissions(permissions)

    # -- audit ----------------------------------------------------------------------

    async def audit_list(
        self,
        filter: AuditFilter | Mapping[str, Any] | None = None,
        *,
        page: int = 0,
        per_page: int = 50,
        **filters: Any,
    ) -> AuditPage:
        return await self._run(ops.audit_list(ops.audit_params(filter, **filters), page, per_page))

    async def iter_audit_events(
        self, filter: AuditFilter | Mapping[str, Any] | None = None, *, per_page: int = 500, **filters: Any
    ) -> AsyncIterator[AuditEvent]:
        params = ops.audit_params(filter, **filters)
        page = 0
        while True:
            result = await self._run(ops.audit_list(params, page, per_page))
            for event in result.events:
                yield event
            if not result.pagination.has_more:
                return
            page += 1

    async def audit_get(self, event_id: str) -> AuditEvent:
        return await self._run(ops.audit_get(event_id))

    async def audit_stats(
        self, filter: AuditFilter | Mapping[str, Any] | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        return await self._run(ops.audit_stats(ops.audit_params(filter, **filters)))

    async def iter_audit_export(
        self, format: str = "json", filter: AuditFilter | Mapping[str, Any] | None = None, **filters: Any
    ) -> AsyncIterator[bytes]:
        params = self.export_params(format, filter, filters)
        async with self.http.stream(
            "GET", self.url("/audit/export"), params=tuple(params), headers=self.headers("GET")
        ) as response:
            if not response.is_success:
                await response.aread()
                ops.check(response, "Failed to export audit logs")
            async for chunk in response.aiter_bytes():
                yield chunk

    async def audit_export(
        self,
        format: str = "json",
        filter: AuditFilter | Mapping[str, Any] | None = None,
        *,
        output: ExportTarget = None,
        **filters: Any,
    ) -> bytes | int:
        stream, opened = self.open_target(output)
        chunks: list[bytes] = []
        written = 0
        try:
            async for chunk in self.iter_audit_export(format, filter, **filters):
                if stream is None:
                    chunks.append(chunk)
                else:
                    written += stream.write(chunk)
        finally:
            if opened and stream is not None:
                stream.close()
        return b"".join(chunks) if stream is None else written
