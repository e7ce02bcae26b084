"""Failure rate limits (SPEC 9.5, S7): 429 + Retry-After, checked before the provider."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from mastra.core.ee.models import AuditFilter, Pagination
from mastra.core.server._ratelimit import parse_limit
from mastra.core.testing.reference import reference_app, reference_settings

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"
TOO_MANY = {"error": "Too many attempts. Try again later.", "message": "Too many attempts. Try again later."}


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
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
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
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
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
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        assert (await attempt(c, "a@example.com", "x")).status_code == 401
        assert (await attempt(c, "a@example.com", "x")).status_code == 429
        await asyncio.sleep(1.2)  # temporary only: no permanent lockout
        assert (await attempt(c, "a@example.com", "x")).status_code == 401


def test_parse_limit() -> None:
    assert parse_limit("10/60") == parse_limit("10 per minute")
    with pytest.raises(Exception, match="Invalid rate limit"):
        parse_limit("nonsense")


# -- S21: counted atomically before the password is verified -------------------------


@pytest.mark.parametrize("storage", ["memory", "sql"])
async def test_concurrent_wrong_passwords_verify_at_most_the_account_limit(
    database_url: str, storage: str
) -> None:
    """150 concurrent wrong passwords on one account: 5 verifications, the rest 429,
    and the right password is refused afterwards (finding 1 of the attack review).
    On SQLite and PostgreSQL."""
    app = make(database_url, storage, ip="1000/60", account="5/300")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "victim@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        calls = counting(app)
        responses = await asyncio.gather(
            *(attempt(c, "victim@example.com", f"guess-{i}") for i in range(150))
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(401) == 5 and statuses.count(429) == 145, statuses
        assert len(calls) == 5
        assert all(1 <= int(r.headers["retry-after"]) <= 300 for r in responses if r.status_code == 429)
        r = await attempt(c, "victim@example.com", PASSWORD)
        assert r.status_code == 429
        assert len(calls) == 5


@pytest.mark.parametrize("storage", ["memory", "sql"])
async def test_concurrent_attempts_from_one_ip_verify_at_most_the_ip_limit(
    sqlite_url: str, storage: str
) -> None:
    app = make(sqlite_url, storage, ip="10/60", account="5/300")
    calls = counting(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        responses = await asyncio.gather(*(attempt(c, f"u{i}@example.com", "wrong-pw") for i in range(60)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) == 10 and statuses.count(429) == 50, statuses
    assert len(calls) == 10


async def test_success_gives_the_ip_slot_back(sqlite_url: str) -> None:
    """Only failures count: successful sign-ins never use up the per-IP budget."""
    app = make(sqlite_url, "memory", ip="2/60", account="100/300")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "a@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        for _ in range(5):
            assert (await attempt(c, "a@example.com", PASSWORD)).status_code == 200
        assert (await attempt(c, "a@example.com", "wrong-pw")).status_code == 401
        assert (await attempt(c, "a@example.com", "wrong-pw")).status_code == 401
        assert (await attempt(c, "a@example.com", PASSWORD)).status_code == 429


class _BrokenBackend:
    async def acquire(self, key: str, limit: Any) -> Any:
        raise ConnectionError("rate limit store is down")

    async def release(self, key: str, entry: str) -> None:
        raise ConnectionError("rate limit store is down")

    async def clear(self, key: str) -> None:
        raise ConnectionError("rate limit store is down")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/credentials/sign-in", {"email": "a@example.com", "password": PASSWORD}),
        ("/api/auth/credentials/sign-up", {"email": "new@example.com", "password": PASSWORD}),
        ("/api/auth/credentials/password-reset", {"email": "a@example.com"}),
        ("/api/auth/credentials/password-reset/confirm", {"token": "t", "password": PASSWORD}),
    ],
)
async def test_broken_rate_limit_store_fails_closed(sqlite_url: str, path: str, body: dict[str, Any]) -> None:
    app = make(sqlite_url, "memory")
    calls = counting(app)
    app.state.mastra_ee.limiter.backend = _BrokenBackend()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        r = await c.post(path, json=body, headers=ORIGIN)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "Service unavailable"
    assert calls == []
    users = app.state.mastra_ee.auth.user
    assert await users.count_users() == 0


async def test_successful_sign_ups_are_limited_per_ip(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, auth={"rate_limit": {"sign_up": "5/3600"}})
    app = reference_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        statuses = []
        for i in range(7):
            r = await c.post(
                "/api/auth/credentials/sign-up",
                json={"email": f"bot{i}@example.com", "password": PASSWORD},
                headers=ORIGIN,
            )
            statuses.append(r.status_code)
        assert statuses == [201] * 5 + [429, 429]
        assert 1 <= int(r.headers["retry-after"]) <= 3600
        assert r.json() == TOO_MANY
    assert await app.state.mastra_ee.auth.user.count_users() == 5


async def test_refused_sign_ups_do_not_use_the_sign_up_quota(sqlite_url: str) -> None:
    settings = reference_settings(
        sqlite_url, auth={"rate_limit": {"sign_up": "1/3600", "ip": "100/60", "account": "100/300"}}
    )
    app = reference_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        for _ in range(3):
            r = await c.post(
                "/api/auth/credentials/sign-up",
                json={"email": "x@example.com", "password": "short"},
                headers=ORIGIN,
            )
            assert r.status_code == 400
        r = await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "x@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        assert r.status_code == 201


def test_auto_storage_is_shared_on_postgres_and_per_process_on_sqlite() -> None:
    from mastra.core.ee.errors import ConfigurationError
    from mastra.core.server._ratelimit import resolve_storage

    assert resolve_storage("auto", "sqlite+aiosqlite:///x.db") == "memory"
    assert resolve_storage("auto", "postgresql+asyncpg://u@h/db") == "sql"
    assert resolve_storage(" SQL ", "sqlite+aiosqlite:///x.db") == "sql"
    with pytest.raises(ConfigurationError, match="Unknown rate limit storage 'redis://x'"):
        resolve_storage("redis://x", "sqlite+aiosqlite:///x.db")


def test_retry_after_never_exceeds_the_window() -> None:
    """Flaky before: under contention the SQL store read the clock before taking its lock,
    so an entry written meanwhile was 'newer than now' and Retry-After came out 301 of 300."""
    from mastra.core.server._ratelimit import _wait

    limit = parse_limit("5/300")
    assert _wait(oldest_blocking=1000.4, limit=limit, now=1000.0) == 300
    assert _wait(oldest_blocking=1000.0, limit=limit, now=1299.5) == 1
    assert _wait(oldest_blocking=1000.0, limit=limit, now=1100.0) == 200
