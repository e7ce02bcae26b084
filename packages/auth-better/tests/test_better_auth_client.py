"""The npm ``better-auth`` client (``createAuthClient``, 1.7.25) against the Python server
in embedded mode (issue 11): one Node script drives every call, its JSON is checked here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mastra.auth.better.plugin import plugin as better_plugin
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.testing.servers import BackgroundServer
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ._node_peer import peer_folder
from .conftest import make_settings

pytestmark = [pytest.mark.node, pytest.mark.slow]

CLIENT_SCRIPT = Path(__file__).parent / "peer" / "client.mjs"


def _server(tmp_path: Path) -> tuple[Any, list[tuple[str, str]]]:
    from mastra.core.server import create_app

    outbox: list[tuple[str, str]] = []

    async def sender(email: str, url: str) -> None:
        outbox.append((email, url))

    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'client.db'}",
        auth={
            "user": "better",
            "credentials": "better",
            "session": "better",
            "rbac": "static",
            "audit_storage": "sql",
            "options": {"better": {"reset_sender": sender}},
        },
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    app = create_app(settings, auth=build_auth(settings, registry), registry=registry, reset_delay=0.01)

    async def links(request: Request) -> JSONResponse:  # the test's mailbox, outside the API
        return JSONResponse([{"email": e, "url": u} for e, u in outbox])

    app.router.routes.insert(0, Route("/__test/outbox", links))
    return app, outbox


def test_better_auth_client_against_embedded_mode(tmp_path: Path) -> None:
    folder = peer_folder()
    shutil.copyfile(CLIENT_SCRIPT, folder / "mastra-better-client.mjs")
    app, _ = _server(tmp_path)
    with BackgroundServer(app, lifespan="on") as server:
        done = subprocess.run(
            ["node", "mastra-better-client.mjs"],
            cwd=folder,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", ""),
                "MASTRA_URL": server.url,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    calls = {c["call"]: c for c in out["calls"]}
    failed = {name for name, c in calls.items() if not c["ok"]}
    assert failed == {"signIn.email wrong password"}, json.dumps(out, indent=1)

    created = calls["signUp.email"]["data"]
    assert created["user"]["email"] == "node-client@example.com" and len(created["token"]) == 32
    assert calls["getSession"]["data"]["user"]["id"] == created["user"]["id"]
    assert calls["signOut"]["data"] == {"success": True}
    assert calls["getSession after signOut"]["data"] is None
    assert calls["signIn.email wrong password"]["error"] == {
        "status": 401,
        "code": "INVALID_EMAIL_OR_PASSWORD",
        "message": "Invalid email or password",
    }
    assert calls["signIn.email"]["data"]["user"]["id"] == created["user"]["id"]
    assert len(calls["listSessions"]["data"]) == 2
    assert calls["revokeSession"]["data"] == {"status": True}
    assert calls["getSession revoked client"]["data"] is None
    changed = calls["changePassword"]["data"]
    assert len(changed["token"]) == 32 and changed["user"]["email"] == "node-client@example.com"
    assert calls["getSession after changePassword"]["data"]["user"]["email"] == "node-client@example.com"
    assert calls["getSession other client after changePassword"]["data"] is None  # S5
    assert calls["updateUser"]["data"] == {"status": True}
    assert calls["getSession after updateUser"]["data"]["user"]["name"] == "Renamed Client"
    me = calls["our /auth/me with its cookie"]["data"]
    assert me["email"] == "node-client@example.com" and me["name"] == "Renamed Client"
    assert calls["our /auth/credentials/sign-in"]["status"] == 200
    assert calls["getSession of our session"]["data"]["user"]["id"] == created["user"]["id"]
    assert calls["requestPasswordReset"]["data"]["status"] is True
    assert (
        out["resetUrl"].startswith("http://127.0.0.1:") and "/studio/reset-password?token=" in out["resetUrl"]
    )
    assert calls["resetPassword"]["data"] == {"status": True}
    assert calls["getSession after resetPassword"]["data"] is None  # S5: the reset revoked it
    assert calls["signIn.email after reset"]["data"]["user"]["id"] == created["user"]["id"]
    assert calls["getSession final"]["data"] is None
