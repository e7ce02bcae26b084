"""``mount_ee`` on a host app: shutdown on the host's lifespan (providers closed,
buffered audit flushed) and the development secret in ``./.mastra/secret``."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mastra.core.ee.audit import SQLAuditStorage, emit
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditFilter, Pagination
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.pool import PooledClient
from mastra.core.ee.settings import Settings
from mastra.core.server import ee_context, mount_ee
from mastra.core.testing.servers import BackgroundServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

EVENTS = 120  # more than a buffered batch holds at once


class PooledAuditExporter:
    """An audit logger holding a pooled outbound httpx client, as the remote exporters
    do: only its ``aclose()`` closes the client."""

    def __init__(self) -> None:
        self.pool: PooledClient[httpx.AsyncClient] = PooledClient(httpx.AsyncClient)
        self.clients: list[httpx.AsyncClient] = []

    async def log(self, event: Any) -> None:
        client = self.pool.client()
        if client not in self.clients:
            self.clients.append(client)

    async def aclose(self) -> None:
        await self.pool.aclose()


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
        auth_secret="l" * 40,
        auth={"audit_storage": "sql", "options": {"sql": {"buffered": True}}},
    )


async def emit_events(request: Request) -> JSONResponse:
    auth = ee_context(request).auth
    for i in range(EVENTS):
        await emit(
            auth,
            AuditEventInput(actor=AuditActor(type="system", id=f"s{i}"), action="t.x", outcome="success"),
        )
    return JSONResponse({"queued": EVENTS})


def fastapi_host(log: list[str]) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.append("host startup")
        yield
        log.append("host shutdown")
        # The host's own shutdown still audits: our cleanup must come after it.
        await emit(
            app.state.mastra_ee.auth,
            AuditEventInput(
                actor=AuditActor(type="system", id="host"), action="host.stop", outcome="success"
            ),
        )

    api = FastAPI(lifespan=lifespan)
    api.add_api_route("/emit", emit_events, methods=["POST"])
    return api


def starlette_host(log: list[str]) -> Starlette:
    return Starlette(routes=[Route("/emit", emit_events, methods=["POST"])])


@pytest.mark.parametrize("make_host", [fastapi_host, starlette_host], ids=["own-lifespan", "no-lifespan"])
async def test_host_shutdown_flushes_audit_and_closes_providers(tmp_path: Path, make_host: Any) -> None:
    settings = settings_for(tmp_path)
    registry = PluginRegistry.default(settings, load_entry_points=False)
    auth = build_auth(settings, registry)
    exporter = auth.audit = PooledAuditExporter()  # type: ignore[assignment]
    log: list[str] = []
    host = make_host(log)
    mount_ee(host, settings=settings, auth=auth, registry=registry)
    with BackgroundServer(host, lifespan="on") as server:
        r = httpx.post(server.url + "/emit", headers={"host": "localhost"})
        assert r.json() == {"queued": EVENTS}
        assert [c.is_closed for c in exporter.clients] == [False]
    assert exporter.clients and all(c.is_closed for c in exporter.clients)
    fresh = SQLAuditStorage.from_options(ProviderOptions({}, settings))
    page = await fresh.list(AuditFilter(), Pagination(per_page=1))
    expected = EVENTS + (1 if make_host is fastapi_host else 0)
    assert page.pagination.total == expected
    if make_host is fastapi_host:
        assert log == ["host startup", "host shutdown"]
        assert (await fresh.list(AuditFilter(action="host.stop"), Pagination())).pagination.total == 1


def test_mount_ee_in_development_uses_the_serve_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mastra.core.cli import _serve
    from mastra.core.ee import secret

    assert _serve.ensure_secret is secret.ensure_secret  # one function, not a copy
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASTRA_AUTH_SECRET", raising=False)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    ctx = mount_ee(Starlette(), settings=settings)
    path = tmp_path / ".mastra" / "secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ctx.settings.secret == path.read_text().strip() and len(ctx.settings.secret) == 48
    # A restart (or `mastra-ee serve` in the same directory) finds the same secret.
    again = mount_ee(Starlette(), settings=settings)
    assert again.settings.secret == ctx.settings.secret
    assert _serve.ensure_secret() == ctx.settings.secret


def test_mount_ee_in_production_never_writes_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASTRA_AUTH_SECRET", raising=False)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
        env="production",
        public_url="https://app.example.com",
        auth={"session": "memory"},
    )
    with contextlib.suppress(Exception):  # whatever the providers make of no secret
        mount_ee(Starlette(), settings=settings)
    assert not (tmp_path / ".mastra" / "secret").exists()
    assert not os.environ.get("MASTRA_AUTH_SECRET")
