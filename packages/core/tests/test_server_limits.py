"""Failure rate limits (SPEC 9.5, S7): 429 + Retry-After, checked before the provider."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastra.core.ee.models import AuditFilter, Pagination
from mastra.core.ee.testing.reference import reference_app, reference_settings
from mastra.core.server._ratelimit import parse_limit

ORIGIN = {"origin": "http://test"}
PASSWORD = "correct horse battery"
TOO_MANY = {"error": "Too many attempts. Try again later."}


def make(sqlite_url: str, storage: str, ip: str = "100/60", account: str = "2/300") -> Any:
    settings = reference_settings(
        sqlite_url, auth={"rate_limit": {"ip": ip, "account": account, "storage": storage}}
    )
    return reference_app(settings)


def counting(app: Any) -> list[str]:
    ref = app.state.mastra_ee.auth.user
    calls: list[str] = []
    original = ref.sign_in

    async def sign_in(email: str, password: str, request: Any) -> Any:
        calls.append(email)
        return await original(email, password, request)

    ref.sign_in = sign_in
    return calls


async def attempt(c: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await c.post(
        "/api/auth/credentials/sign-in", json={"email": email, "password": password}, headers=ORIGIN
    )


@pytest.mark.parametrize("storage", ["memory", "sql"])
async def test_account_limit(sqlite_url: str, storage: str) -> None:
    app = make(sqlite_url, storage)
    calls = counting(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "a@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        assert (await attempt(c, "a@example.com", "wrong-1")).status_code == 401
        # A success resets the account counter.
        assert (await attempt(c, "a@example.com", PASSWORD)).status_code == 200
        assert (await attempt(c, "a@example.com", "wrong-2")).status_code == 401
        assert (await attempt(c, "A@Example.com", "wrong-3")).status_code == 401  # same account, normalised
        before = len(calls)
        r = await attempt(c, "a@example.com", PASSWORD)
        assert (r.status_code, r.json()) == (429, TOO_MANY)
        assert 1 <= int(r.headers["retry-after"]) <= 300
        assert len(calls) == before  # rejected before the provider was asked
        # Another account from the same IP is unaffected.
        assert (await attempt(c, "b@example.com", "x")).status_code == 401
    page = await app.state.mastra_ee.auth.audit_storage.list(AuditFilter(action="auth.sign-in"), Pagination())
    assert page.events[1].metadata["reason"] == "rate_limited"


async def test_ip_limit_and_sign_up(sqlite_url: str) -> None:
    app = make(sqlite_url, "memory", ip="3/60", account="100/300")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        for i in range(3):
            assert (await attempt(c, f"u{i}@example.com", "x")).status_code == 401
        r = await attempt(c, "fresh@example.com", "x")
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        r = await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "n@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        assert (r.status_code, r.json()) == (429, TOO_MANY)
        r = await c.post(
            "/api/auth/credentials/password-reset/confirm",
            json={"token": "t", "password": PASSWORD},
            headers=ORIGIN,
        )
        assert r.status_code == 429


async def test_window_expiry_frees_key(sqlite_url: str) -> None:
    import asyncio

    app = make(sqlite_url, "sql", ip="1/1", account="100/300")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        assert (await attempt(c, "a@example.com", "x")).status_code == 401
        assert (await attempt(c, "a@example.com", "x")).status_code == 429
        await asyncio.sleep(1.2)  # temporary only: no permanent lockout
        assert (await attempt(c, "a@example.com", "x")).status_code == 401


def test_parse_limit() -> None:
    assert parse_limit("10/60") == parse_limit("10 per minute")
    with pytest.raises(Exception, match="Invalid rate limit"):
        parse_limit("nonsense")
