"""Host validation and the public URL (S22): findings 2 and 3 of the attack review.

Every absolute URL the server emits comes from ``MASTRA_PUBLIC_URL`` (or, in
development, from a Host that is allowed); a request whose Host is not allowed is
refused before anything else runs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastra.core.ee.errors import ConfigurationError
from mastra.core.testing.reference import reference_app, reference_settings

PASSWORD = "correct horse battery"
INVALID_HOST = {"error": "Bad Request", "message": "Invalid Host header"}


def client(app: Any, base_url: str = "http://localhost") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def sign_up(c: httpx.AsyncClient, origin: str, email: str = "owner@example.com") -> httpx.Response:
    return await c.post(
        "/api/auth/credentials/sign-up",
        json={"email": email, "password": PASSWORD},
        headers={"origin": origin},
    )


async def test_dns_rebinding_cannot_create_the_first_owner(sqlite_url: str) -> None:
    """A page on attacker.example rebinding its name to 127.0.0.1 sends its own Host
    and Origin: the request is refused before sign-up runs."""
    app = reference_app(reference_settings(sqlite_url))
    async with client(app, "http://attacker.example:4111") as c:
        r = await sign_up(c, "http://attacker.example:4111")
        assert (r.status_code, r.json()) == (400, INVALID_HOST)
        r = await c.get("/api/auth/capabilities")
        assert (r.status_code, r.json()) == (400, INVALID_HOST)
        r = await c.get("/login")  # studio pages too
        assert r.status_code == 400
    assert await app.state.mastra_ee.auth.user.count_users() == 0


async def _raw_get(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One GET through the ASGI app with exactly ``headers`` (httpx would merge two Hosts)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path = "/api/auth/capabilities"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 4111),
        "state": {},
    }
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_two_host_headers_are_refused(sqlite_url: str) -> None:
    """RFC 9112 3.2: more than one Host is a 400 (a proxy in front may route by the other
    one). h11 refused it in the parser; httptools, which ``serve`` runs, does not."""
    app = reference_app(reference_settings(sqlite_url))
    async with client(app):
        assert (await _raw_get(app, [(b"host", b"localhost")]))[0] == 200
        for hosts in (
            [b"localhost", b"attacker.example"],
            [b"attacker.example", b"localhost"],
            [b"localhost"] * 2,
        ):
            status, body = await _raw_get(app, [(b"host", h) for h in hosts])
            assert (status, body) == (400, b'{"error":"Bad Request","message":"Invalid Host header"}'), hosts
        assert (await _raw_get(app, [(b"host", b"localhost")]))[0] == 200  # no verdict was remembered
        assert (await _raw_get(app, []))[0] == 400  # none at all


async def test_probes_answer_any_host_and_nothing_else_does(sqlite_url: str) -> None:
    """Kubernetes probes a pod by its IP: liveness and readiness answer whatever the Host,
    every other path (the rest of /system included) is still refused."""
    app = reference_app(reference_settings(sqlite_url))
    async with client(app, "http://10.1.2.3:4111") as c:
        assert (await c.get("/api/system/health")).status_code == 200
        assert (await c.get("/api/system/ready")).status_code == 200
        for path in ("/api/system/metrics", "/api/system/health/x", "/api/auth/capabilities", "/login"):
            r = await c.get(path)
            assert r.status_code == 400, path


async def test_reset_link_never_comes_from_a_forged_host(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url))
    provider = app.state.mastra_ee.auth.user
    async with client(app) as c:
        assert (await sign_up(c, "http://localhost")).status_code == 201
        r = await c.post(
            "/api/auth/credentials/password-reset",
            json={"email": "owner@example.com"},
            headers={"origin": "http://evil.example", "host": "evil.example"},
        )
        assert (r.status_code, r.json()) == (400, INVALID_HOST)
    assert provider.outbox == []


async def test_absolute_urls_come_from_the_public_url(sqlite_url: str) -> None:
    """An allowed second host name (an internal one) still yields public-URL links."""
    public = "https://app.example.com"
    settings = reference_settings(sqlite_url, public_url=public, allowed_hosts=["internal.example"])
    app = reference_app(settings)
    provider = app.state.mastra_ee.auth.user
    async with client(app, "http://internal.example") as c:
        assert (await sign_up(c, public)).status_code == 201
        r = await c.post(
            "/api/auth/credentials/password-reset",
            json={"email": "owner@example.com"},
            headers={"origin": public},
        )
        assert r.status_code == 202
        await _drain()
        [(email, link)] = provider.outbox
        assert email == "owner@example.com"
        assert link.startswith("https://app.example.com/reset-password?token="), link


async def _drain() -> None:
    import asyncio

    for _ in range(20):
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("app.example.com", True),  # host of MASTRA_PUBLIC_URL
        ("app.example.com:8443", True),  # ports do not matter
        ("APP.EXAMPLE.COM", True),
        ("studio.partner.test", True),  # host of a trusted origin
        ("api.internal.test", True),  # MASTRA_ALLOWED_HOSTS wildcard
        ("deep.api.internal.test", True),
        ("internal.test", False),  # the wildcard needs a subdomain
        ("localhost", False),  # production: no loopback exemption
        ("evil.example", False),
        ("app.example.com.evil.example", False),
        ("", False),
        ("app.example.com:notaport", False),
        ("user@app.example.com", False),
        ("[::1", False),
    ],
)
def test_allowed_hosts_in_production(host: str, allowed: bool) -> None:
    from mastra.core.ee.settings import Settings
    from mastra.core.server._hosts import AllowedHosts

    settings = Settings(
        env="production",
        public_url="https://app.example.com",
        trusted_origins=["https://studio.partner.test"],
        allowed_hosts=["*.internal.test"],
    )
    assert AllowedHosts.from_settings(settings).allows(host) is allowed


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:4111", True),
        ("127.0.0.1", True),
        ("[::1]:4111", True),
        ("10.0.0.5:4111", True),  # MASTRA_ALLOWED_HOSTS (serve adds its bind address)
        ("10.0.0.6:4111", False),
        ("evil.example", False),
    ],
)
def test_allowed_hosts_in_development(host: str, allowed: bool) -> None:
    from mastra.core.ee.settings import Settings
    from mastra.core.server._hosts import AllowedHosts

    hosts = AllowedHosts.from_settings(Settings(allowed_hosts="10.0.0.5"))
    assert hosts.allows(host) is allowed


async def test_forwarded_host_is_checked_behind_a_trusted_proxy(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url, trusted_proxy_count=1))
    async with client(app) as c:
        r = await c.get("/api/auth/capabilities", headers={"x-forwarded-host": "evil.example"})
        assert (r.status_code, r.json()) == (400, INVALID_HOST)
        r = await c.get("/api/auth/capabilities", headers={"x-forwarded-host": "localhost:3000"})
        assert r.status_code == 200


async def test_csrf_never_trusts_an_origin_made_from_host(sqlite_url: str) -> None:
    """With a public URL, an allowed internal Host does not make its own origin trusted."""
    settings = reference_settings(
        sqlite_url, public_url="https://app.example.com", allowed_hosts=["internal.example"]
    )
    app = reference_app(settings)
    async with client(app, "http://internal.example") as c:
        r = await sign_up(c, "http://internal.example")
        assert r.status_code == 403
        assert r.json()["message"] == "Cross-origin request rejected"
        assert (await sign_up(c, "https://app.example.com")).status_code == 201


def test_production_refuses_to_start_without_public_url(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTRA_EE_LICENSE", "l" * 40)
    settings = reference_settings(sqlite_url, env="production")
    with pytest.raises(ConfigurationError, match=r"^MASTRA_PUBLIC_URL is required in production$"):
        reference_app(settings)
