"""A database outage while authenticating (issue #14): the credential cannot be checked,
so the answer is a quick 503 — never a 500, a pass, or a 401 that signs the user out —
and the server recovers by itself once PostgreSQL is back (pool pre-ping)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from mastra.core.testing.postgres import PostgresServer
from mastra.core.testing.reference import reference_app, reference_settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def test_database_outage_is_503_and_recovers(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    app = reference_app(reference_settings(postgres_url), auth_cache_ttl=0)  # every request reads
    async with client_for(app) as client:
        r = await client.post(
            "/api/auth/credentials/sign-up",
            json={"email": "a@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        assert r.status_code == 201, r.text
        assert (await client.get("/api/auth/me")).json()["email"] == "a@example.com"
        postgres_server.stop_server()
        try:
            for path in ("/api/auth/me", "/api/auth/sessions"):
                started = time.monotonic()
                r = await client.get(path)
                assert time.monotonic() - started < 3, path  # fails fast
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert set(r.json()) >= {"error", "message"}
                assert "set-cookie" not in r.headers  # the cookie is kept: nobody is signed out
        finally:
            postgres_server.start_server()
        deadline = time.monotonic() + 10
        while (r := await client.get("/api/auth/me")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.status_code == 200 and r.json()["email"] == "a@example.com"
