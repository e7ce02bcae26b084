"""``mastra-ee serve`` as an attacker meets it: a real uvicorn subprocess (S16, S22,
S23, S27), with the reference credentials provider loaded as an extra plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from mastra.core.testing.reference import ServeProcess, reference_serve_env

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


def reference_env(**extra: str) -> dict[str, str]:
    return reference_serve_env(
        MASTRA_AUTH_SECRET="serve-hardening-secret-0123456789abcdef",
        MASTRA_AUTH__RBAC="static",
        MASTRA_AUTH__AUDIT_STORAGE="sql",
        **extra,
    )


def test_forwarded_for_from_loopback_does_not_reset_the_ip_limit(tmp_path: Path) -> None:
    """Finding 4: with uvicorn's proxy headers on, a rotating X-Forwarded-For from a
    loopback client was never limited and the audit log recorded the forged address."""
    server = ServeProcess(tmp_path, reference_env())
    with server, httpx.Client(base_url=server.url, headers={"origin": server.url}, timeout=30) as c:
        r = c.post("/api/auth/credentials/sign-up", json={"email": "owner@example.com", "password": PASSWORD})
        assert r.status_code == 201
        statuses = []
        for i in range(30):
            r = httpx.post(
                server.url + "/api/auth/credentials/sign-in",
                json={"email": f"user{i}@example.com", "password": "wrong-password"},
                headers={"origin": server.url, "x-forwarded-for": f"203.0.113.{i}"},
                timeout=30,
            )
            statuses.append(r.status_code)
        assert statuses.count(401) == 10 and statuses.count(429) == 20, statuses
        events = c.get("/api/audit", params={"action": "auth.sign-in", "perPage": 100}).json()["events"]
        assert len(events) == 30
        assert {e["actor"]["ip"] for e in events} == {"127.0.0.1"}
        assert "server" not in r.headers  # finding 18: no `server: uvicorn`


def test_access_log_redacts_codes_states_and_tokens(tmp_path: Path) -> None:
    """Finding 11: one-time values in query strings never reach uvicorn's access log."""
    secrets = ["code-s3cr3t-1", "state-s3cr3t-2", "token-s3cr3t-3", "hint-s3cr3t-4", "key-s3cr3t-5"]
    with ServeProcess(tmp_path, reference_env()) as server:
        httpx.get(
            server.url + "/api/auth/sso/callback",
            params={"code": secrets[0], "state": secrets[1]},
            timeout=30,
        )
        httpx.get(server.url + "/reset-password", params={"token": secrets[2]}, timeout=30)
        httpx.get(
            server.url + "/api/auth/me",
            params={"id_token_hint": secrets[3], "apiKey": secrets[4]},
            timeout=30,
        )
    log = server.stdout + server.stderr  # uvicorn writes its access log to stdout
    assert "GET /api/auth/sso/callback?code=[REDACTED]&state=[REDACTED]" in log
    assert "/reset-password?token=[REDACTED]" in log
    assert not [s for s in secrets if s in log]


def test_production_without_public_url_exits_2(tmp_path: Path) -> None:
    env = reference_env(MASTRA_ENV="production", MASTRA_EE_LICENSE="x" * 40)
    result = subprocess.run(
        [sys.executable, "-m", "mastra.core.cli", "serve", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith("MASTRA_PUBLIC_URL is required in production")


def test_foreign_host_is_refused_by_the_running_server(tmp_path: Path) -> None:
    with ServeProcess(tmp_path, reference_env()) as server:
        r = httpx.get(server.url + "/api/auth/capabilities", headers={"host": "rebind.attacker.example"})
        assert (r.status_code, r.json()) == (400, {"error": "Bad Request", "message": "Invalid Host header"})
        assert httpx.get(server.url + "/api/auth/capabilities").status_code == 200
        r = httpx.get(f"http://localhost:{server.port}/api/auth/capabilities")
        assert r.status_code == 200


def test_serve_allows_its_bind_address_in_development_only() -> None:
    from mastra.core.cli._serve import _allow_bind_host
    from mastra.core.ee.settings import Settings
    from mastra.core.server._hosts import AllowedHosts

    dev = _allow_bind_host(Settings(), "10.0.0.5")
    assert AllowedHosts.from_settings(dev).allows("10.0.0.5:4111")
    assert _allow_bind_host(Settings(), "0.0.0.0").allowed_hosts == []  # names no host
    prod = Settings(env="production", public_url="https://app.example.com")
    assert not AllowedHosts.from_settings(_allow_bind_host(prod, "10.0.0.5")).allows("10.0.0.5")
