"""End to end against real ``mastra-ee serve`` processes on the embedded default
(Better-Auth-compatible embedded credentials, cookie sessions, static RBAC, SQL audit)."""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import httpx
import pytest
from mastra.core.testing.reference import ServeProcess

pytestmark = pytest.mark.slow

SECRET = "e2e-secret-0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "correct horse battery"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    env.update(MASTRA_AUTH_SECRET=SECRET, **extra)
    return env


def client(server: ServeProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"origin": server.url}, timeout=30)


def test_full_flow_and_restart(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path, clean_env())
    server.env = clean_env()
    with server, client(server) as owner, client(server) as viewer:
        r = owner.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": PASSWORD, "name": "Owner"},
        )
        assert r.status_code == 201, r.text
        assert (
            viewer.post(
                "/api/auth/credentials/sign-up", json={"email": "viewer@example.com", "password": PASSWORD}
            ).status_code
            == 201
        )
        viewer.cookies.clear()
        r = viewer.post(
            "/api/auth/credentials/sign-in", json={"email": "viewer@example.com", "password": PASSWORD}
        )
        assert r.status_code == 200
        me = viewer.get("/api/auth/me").json()
        assert me["email"] == "viewer@example.com" and me["roles"] == ["viewer"]
        assert owner.get("/api/auth/me").json()["roles"] == ["owner"]
        r = viewer.get("/api/audit")
        assert (r.status_code, r.json()) == (
            403,
            {"error": "Forbidden", "message": "Missing required permission: audit:read"},
        )
        denied = owner.get("/api/audit", params={"action": "authz.denied"}).json()["events"]
        assert denied and denied[0]["actor"]["email"] == "viewer@example.com"
        export = owner.get("/api/audit/export", params={"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert {"auth.sign-up", "auth.sign-in", "authz.denied"} <= {row["action"] for row in rows}
        old_cookie = dict(viewer.cookies)
        assert viewer.post("/api/auth/logout").json() == {"success": True}
        with httpx.Client(base_url=server.url, cookies=old_cookie) as stale:
            r = stale.get("/api/auth/sessions")
            assert (r.status_code, r.json()) == (
                401,
                {"error": "Invalid or expired token", "message": "Invalid or expired token"},
            )
        owner_cookie = dict(owner.cookies)
        events_before = owner.get("/api/audit").json()["pagination"]["total"]
    assert server.returncode == 0
    # A restart keeps users, sessions and the audit log.
    again = ServeProcess(tmp_path, clean_env())
    again.env = clean_env()
    with again, httpx.Client(base_url=again.url, cookies=owner_cookie) as owner:
        assert owner.get("/api/auth/me").json()["email"] == "owner@example.com"
        assert owner.get("/api/audit").json()["pagination"]["total"] >= events_before
        assert "first account" not in again.stdout


@pytest.mark.postgres
def test_two_servers_share_postgres(tmp_path: Path, postgres_url: str) -> None:
    env = clean_env(MASTRA_DATABASE_URL=postgres_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = ServeProcess(tmp_path / "a", env)
    second = ServeProcess(tmp_path / "b", env)
    first.env = second.env = env
    with first, second:
        with client(first) as a:
            assert (
                a.post(
                    "/api/auth/credentials/sign-up", json={"email": "pg@example.com", "password": PASSWORD}
                ).status_code
                == 201
            )
            cookie = dict(a.cookies)
            with httpx.Client(base_url=second.url, cookies=cookie, headers={"origin": second.url}) as b:
                # A session created on one server is valid on the other.
                assert b.get("/api/auth/me").json()["email"] == "pg@example.com"
                assert len(b.get("/api/auth/sessions").json()["sessions"]) == 1
                # Sign-out on one is effective on both: at once on the first, and on the
                # second once its short authentication cache (auth.cache_ttl, 1 s) lapses.
                assert a.post("/api/auth/logout").status_code == 200
                time.sleep(1.2)
                assert b.get("/api/auth/sessions").status_code == 401
                assert b.get("/api/auth/me").text == "null"


def test_serve_embedded_default_startup(tmp_path: Path) -> None:
    """The embedded default of ``serve``: Better Auth credentials, first-owner hint."""
    import os
    import stat

    from mastra.core.cli._serve import SECRET_WARNING

    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    server = ServeProcess(tmp_path, env)
    server.env = env
    with server:
        caps = httpx.get(server.url + "/api/auth/capabilities").json()
        assert caps == {"enabled": True, "login": {"type": "credentials", "signUpEnabled": True}}
    assert server.returncode == 0
    assert SECRET_WARNING in server.stderr
    assert stat.S_IMODE((tmp_path / ".mastra" / "secret").stat().st_mode) == 0o600
    assert "first account created becomes the owner" in server.stdout
    assert (tmp_path / ".mastra" / "mastra.db").is_file()
