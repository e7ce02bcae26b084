"""Shutdown flushes providers before the database engines close (buffered audit writes)."""

from __future__ import annotations

from pathlib import Path

from mastra.core.ee.audit import SQLAuditStorage, emit
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditFilter, Pagination
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings
from mastra.core.server import create_app


async def test_lifespan_shutdown_flushes_buffered_audit_events(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    settings = Settings(
        database_url=url,
        auth_secret="l" * 40,
        auth={"audit_storage": "sql", "options": {"sql": {"buffered": True}}},
    )
    registry = PluginRegistry.default(settings, load_entry_points=False)
    auth = build_auth(settings, registry)
    app = create_app(settings, auth=auth, registry=registry)
    async with app.router.lifespan_context(app):
        for i in range(250):
            await emit(
                auth,
                AuditEventInput(actor=AuditActor(type="system", id=f"s{i}"), action="t.x", outcome="success"),
            )
    fresh = SQLAuditStorage.from_options(ProviderOptions({}, settings))
    page = await fresh.list(AuditFilter(), Pagination(per_page=1))
    assert page.pagination.total == 250
