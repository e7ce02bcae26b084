"""SSO login/callback (SPEC 9.4), redirect validation (9.1), public origin, client IP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mastra.core.ee import hookimpl
from mastra.core.ee.errors import SSOError
from mastra.core.ee.models import (
    AuditFilter,
    EEUser,
    Pagination,
    SSOCallbackResult,
    SSOLoginConfig,
    SSOTokens,
)
from mastra.core.ee.settings import Settings
from mastra.core.server import client_ip, public_origin, validate_redirect
from mastra.core.testing.reference import ReferenceUser, reference_app, reference_settings
from starlette.requests import Request


class FakeSSO:
    async def get_login_url(self, redirect_uri: str, state: str) -> str:
        return f"https://idp.example/authorize?state={state}&redirect_uri={redirect_uri}"

    def get_login_cookies(self, redirect_uri: str, state: str) -> list[str]:
        return ["idp_pkce=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=300"]

    async def handle_callback(
        self, code: str, state: str, *, cookie_header: str | None = None
    ) -> SSOCallbackResult:
        if code == "bad":
            raise SSOError("token_exchange_failed")
        if code == "boom":
            raise RuntimeError("secret detail")
        assert cookie_header and "idp_pkce=abc" in cookie_header
        return SSOCallbackResult(
            user=EEUser(id="sso-user", email="sso@example.com"),
            tokens=SSOTokens(access_token="tok"),
            cookies=["idp_pkce=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"],
        )

    def get_login_button_config(self) -> SSOLoginConfig:
        return SSOLoginConfig(provider="fake", text="Sign in with Fake")

    async def get_logout_url(self, redirect_uri: str, request: Any) -> str:
        return f"https://idp.example/logout?return_to={redirect_uri}"


class SSOPlugin:
    @hookimpl
    def mastra_ee_sso_provider(self, name: str, options: Any) -> Any:
        return FakeSSO() if name == "fake" else None


@pytest.fixture
def app(sqlite_url: str) -> Any:
    app = reference_app(reference_settings(sqlite_url, auth={"sso": "fake"}), plugins={"sso": SSOPlugin()})
    ref = app.state.mastra_ee.auth.user
    ref.users["sso-user"] = ReferenceUser("sso-user", "sso@example.com", "SSO", "00:00", "member")
    return app


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def login(c: httpx.AsyncClient, redirect: str = "/agents?x=1") -> str:
    r = await c.get("/api/auth/sso/login", params={"redirect_uri": redirect})
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    assert cookies[0].startswith("mastra_sso_state=v1.") and "Max-Age=600" in cookies[0]
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    assert cookies[1].startswith("idp_pkce=abc")
    url = r.json()["url"]
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == ["http://localhost/api/auth/sso/callback"]
    return query["state"][0]


async def sso_events(app: Any) -> list[Any]:
    page = await app.state.mastra_ee.auth.audit_storage.list(
        AuditFilter(action="auth.sso-callback"), Pagination()
    )
    return list(reversed(page.events))


async def test_sso_round_trip(app: Any) -> None:
    async with client_for(app) as c:
        caps = (await c.get("/api/auth/capabilities")).json()
        assert caps["login"]["type"] == "both" and caps["login"]["sso"]["url"] == "/api/auth/sso/login"
        state = await login(c)
        r = await c.get("/api/auth/sso/callback", params={"code": "good", "state": state})
        assert r.status_code == 302 and r.headers["location"] == "http://localhost/agents?x=1"
        cookies = r.headers.get_list("set-cookie")
        assert cookies[0].startswith("mastra_sso_state=;") and "Max-Age=0" in cookies[0]
        assert any(c.startswith("idp_pkce=;") for c in cookies)
        assert any(c.startswith("mastra_session=v1.") for c in cookies)
        assert (await c.get("/api/auth/me")).json()["email"] == "sso@example.com"
        # Replay: the state is single-use even with the cookie restored.
        r = await c.get("/api/auth/sso/callback", params={"code": "good", "state": state})
        assert r.headers["location"].startswith("http://localhost/login?error=invalid_state")
        # Logout offers the federated logout URL.
        r = await c.post("/api/auth/logout", headers={"origin": "http://localhost"})
        assert r.json() == {
            "success": True,
            "redirectTo": "https://idp.example/logout?return_to=http://localhost/",
        }
    events = await sso_events(app)
    assert [(e.outcome, e.metadata.get("reason")) for e in events] == [
        ("success", None),
        ("failure", "invalid_state"),
    ]
    assert events[0].metadata["provider"] == "fake"


async def test_sso_login_html_redirect(app: Any) -> None:
    async with client_for(app) as c:
        r = await c.get("/api/auth/sso/login", headers={"accept": "text/html,application/xhtml+xml"})
        assert r.status_code == 302 and r.headers["location"].startswith("https://idp.example/authorize")
        assert len(r.headers.get_list("set-cookie")) == 2


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"code": "good", "state": "forged"}, "invalid_state"),
        ({"code": "bad", "state": None}, "token_exchange_failed"),
        ({"code": "boom", "state": None}, "sso_failed"),
        ({"state": None}, "missing_code"),
        ({"error": "access_denied", "state": None}, "access_denied"),
        ({"error": "<script>", "state": None}, "sso_failed"),
    ],
)
async def test_sso_callback_failures(app: Any, params: dict[str, Any], code: str) -> None:
    async with client_for(app) as c:
        state = await login(c, "/audit")
        query = {k: (state if v is None else v) for k, v in params.items()}
        r = await c.get("/api/auth/sso/callback", params=query)
        assert r.status_code == 302
        assert r.headers["location"] == f"http://localhost/login?error={code}&redirect=%2Faudit"
        assert "secret detail" not in r.text
        assert (await c.get("/api/auth/me")).text == "null"
    [event] = await sso_events(app)
    assert event.outcome == "failure" and event.metadata["reason"] == code


async def test_sso_callback_without_cookie(app: Any) -> None:
    async with client_for(app) as c:
        state = await login(c)
        c.cookies.clear()
        r = await c.get("/api/auth/sso/callback", params={"code": "good", "state": state})
        assert r.headers["location"] == "http://localhost/login?error=invalid_state"


async def test_sso_not_configured(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url))
    async with client_for(app) as c:
        r = await c.get("/api/auth/sso/login")
        assert (r.status_code, r.json()) == (
            404,
            {"error": "SSO not configured", "message": "SSO not configured"},
        )
        r = await c.get("/api/auth/sso/callback")
        assert r.headers["location"].startswith("http://localhost/login?error=sso_not_configured")


async def test_sso_login_rejects_open_redirect(app: Any) -> None:
    async with client_for(app) as c:
        state = await login(c, "https://evil.example/steal")
        r = await c.get("/api/auth/sso/callback", params={"code": "good", "state": state})
        assert r.headers["location"] == "http://localhost/"


# -- 9.1 helpers --------------------------------------------------------------------


def fake_request(headers: dict[str, str] | None = None, client: str = "10.0.0.9") -> Request:
    raw = [
        (k.lower().encode(), v.encode()) for k, v in {"host": "app.example.com", **(headers or {})}.items()
    ]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": raw,
            "scheme": "https",
            "client": (client, 1234),
            "server": ("app.example.com", 443),
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(
    ("target", "dev", "expected"),
    [
        ("/agents?x=1#h", False, "/agents?x=1#h"),
        ("//evil.example", False, "/"),
        ("/\\evil.example", False, "/"),
        ("https://app.example.com/x", False, "https://app.example.com/x"),
        ("https://trusted.example.com/x", False, "https://trusted.example.com/x"),
        ("https://evil.example.com/x", False, "/"),
        ("http://localhost:3000/x", True, "http://localhost:3000/x"),
        ("http://127.0.0.1:9/x", True, "http://127.0.0.1:9/x"),
        ("http://[::1]:9/x", True, "http://[::1]:9/x"),
        ("http://localhost:3000/x", False, "/"),
        ("https://user:pw@app.example.com/x", False, "/"),
        ("https://app.example.com@evil.example/x", False, "/"),
        ("/ok\r\nSet-Cookie: x", False, "/"),
        ("/ok\x00", False, "/"),
        ("javascript:alert(1)", False, "/"),
        ("", False, "/"),
        ("relative/path", False, "/"),
        ("https://app.example.com:99999/", False, "/"),
    ],
)
def test_validate_redirect_table(target: str, dev: bool, expected: str) -> None:
    settings = Settings(
        trusted_origins=["https://trusted.example.com"],
        env=None if dev else "production",
        public_url=None if dev else "https://app.example.com",
    )
    assert validate_redirect(target, fake_request(), settings) == expected


def test_public_origin_and_client_ip() -> None:
    forwarded = {
        "x-forwarded-proto": "http",
        "x-forwarded-host": "proxy.example.com, inner",
        "x-forwarded-for": "203.0.113.7, 198.51.100.2",
    }
    plain = Settings()
    assert public_origin(fake_request(forwarded), plain) == "https://app.example.com"
    assert client_ip(fake_request(forwarded), plain) == "10.0.0.9"  # proxies not trusted
    one = Settings(trusted_proxy_count=1)
    assert public_origin(fake_request(forwarded), one) == "http://proxy.example.com"
    assert client_ip(fake_request(forwarded), one) == "198.51.100.2"
    two = Settings(trusted_proxy_count=2)
    assert client_ip(fake_request(forwarded), two) == "203.0.113.7"
    assert public_origin(fake_request(forwarded), Settings(public_url="https://pub.example.com/")) == (
        "https://pub.example.com"
    )


async def test_sso_redirect_uri_and_logout_return_use_the_public_url(sqlite_url: str) -> None:
    """S22: reached through an allowed internal host name, the IdP still gets the
    public callback URL and the logout return (finding 2 of the attack review)."""
    public = "https://app.example.com"
    settings = reference_settings(
        sqlite_url, public_url=public, allowed_hosts=["internal.example"], auth={"sso": "fake"}
    )
    app = reference_app(settings, plugins={"sso": SSOPlugin()})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://internal.example"
    ) as c:
        r = await c.get("/api/auth/sso/login")
        query = parse_qs(urlsplit(r.json()["url"]).query)
        assert query["redirect_uri"] == ["https://app.example.com/api/auth/sso/callback"]
        r = await c.post("/api/auth/logout", headers={"origin": public})
        assert r.json()["redirectTo"] == "https://idp.example/logout?return_to=https://app.example.com/"
