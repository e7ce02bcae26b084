"""Remote mode with an admin account: get_user, session listing and revocation, and a
password reset that kills the user's sessions, against the real Better Auth server."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastra.auth.better import RemoteBetterAuth
from mastra.auth.better.plugin import plugin as better_plugin
from mastra.auth.better.remote import AdminRemoteBetterAuth
from mastra.core.ee.errors import ConfigurationError, ProviderUnavailable
from mastra.core.ee.interfaces import SupportsSessionListing
from mastra.core.ee.models import EEUser, Session
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.testing.servers import free_port
from mastra.core.testing.sessions import SessionProviderConformance, cookie_pairs, request_with_cookies
from mastra.core.testing.users import UserProviderConformance
from starlette.requests import Request

from ._node_peer import BetterAuthNode
from .conftest import SECRET, make_settings
from .test_remote import make_remote

ORIGIN = "http://localhost"  # the test app's origin: also the reset link's, so trusted
ADMIN_EMAIL = "ops@example.com"
ADMIN_PASSWORD = "operator password"


def node_sign_up(node: BetterAuthNode, email: str, password: str) -> str:
    """A user created at the Better Auth server directly; returns the id."""
    created = node.post("/sign-up/email", {"email": email, "password": password, "name": email[:2]})
    assert created.status_code == 200, created.text
    return str(created.json()["user"]["id"])


def add_admin(node: BetterAuthNode, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """An account with Better Auth's ``admin`` role (what an operator sets up once)."""
    node_sign_up(node, email, password)
    with sqlite3.connect(node.db_path) as conn:
        conn.execute("UPDATE \"user\" SET role = 'admin' WHERE email = ?", (email,))


def make_admin_remote(base_url: str, **options: Any) -> RemoteBetterAuth:
    return make_remote(base_url, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD, **options)


@pytest.fixture
def node(tmp_path: Path):
    with BetterAuthNode(tmp_path / "remote.db", SECRET, trusted=(ORIGIN, "http://127.0.0.1:4111")) as server:
        add_admin(server)
        yield server


def signed_in_request(result: Any) -> Request:
    return request_with_cookies(cookie_pairs([("set-cookie", c) for c in result.cookies]))


async def sign_in_session(remote: RemoteBetterAuth, email: str, password: str, **meta: str) -> Session:
    scope_request = _client_request(**meta) if meta else None
    result = await remote.sign_in(email, password, scope_request)
    session_id = remote.get_session_id_from_request(signed_in_request(result))
    assert session_id is not None
    session = await remote.validate_session(session_id)
    assert session is not None
    return session


def _client_request(ip: str = "203.0.113.1", userAgent: str = "tests/1") -> Request:
    """A request as our server sees a browser's: the client address and its user agent."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"user-agent", userAgent.encode())],
        "client": (ip, 50000),
        "query_string": b"",
    }
    return Request(scope)


# -- options --------------------------------------------------------------------------------


def test_admin_account_selects_session_management() -> None:
    url = f"http://127.0.0.1:{free_port()}/api/auth"
    plain = make_remote(url)
    managed = make_admin_remote(url)
    assert type(plain) is RemoteBetterAuth and not isinstance(plain, SupportsSessionListing)
    assert isinstance(managed, AdminRemoteBetterAuth) and isinstance(managed, SupportsSessionListing)
    assert "operator password" not in repr(managed.options)
    with pytest.raises(ConfigurationError, match="admin_email and admin_password go together"):
        make_remote(url, admin_email=ADMIN_EMAIL)


# -- provider level ---------------------------------------------------------------------------


@pytest.mark.node
async def test_get_user_known_and_unknown(node: BetterAuthNode) -> None:
    remote = make_admin_remote(node.base_url)
    created = await remote.sign_up("known@example.com", "remote password", "Known", None)
    found = await remote.get_user(created.user.id)
    assert found is not None and found.id == created.user.id
    assert found.email == "known@example.com" and found.name == "Known"
    assert found.metadata["role"] == "viewer"
    for unknown in ("no-such-user", "../../etc/passwd", "💥", "x" * 300, ""):
        assert await remote.get_user(unknown) is None
    assert await make_remote(node.base_url).get_user(created.user.id) is None  # no admin account


@pytest.mark.node
async def test_list_revoke_one_and_revoke_all(node: BetterAuthNode) -> None:
    remote = make_admin_remote(node.base_url)
    user = (await remote.sign_up("two@example.com", "remote password", None, None)).user
    await remote.revoke_user_sessions(user.id)  # the sign-up's own session
    laptop = await sign_in_session(remote, "two@example.com", "remote password", userAgent="laptop/1")
    phone = await sign_in_session(remote, "two@example.com", "remote password", ip="198.51.100.7")

    listed = await remote.list_sessions(user.id)
    assert {s.handle for s in listed} == {laptop.handle, phone.handle}
    assert all(s.id == s.handle and s.user_id == user.id for s in listed)
    assert laptop.id not in str([s.to_json() for s in listed])  # no cookie value leaks
    by_handle = {s.handle: s for s in listed}
    assert by_handle[laptop.handle].metadata["userAgent"] == "laptop/1"
    assert by_handle[phone.handle].metadata["ip"] == "198.51.100.7"

    assert laptop.handle is not None and phone.handle is not None
    assert await remote.revoke_session("someone-else", laptop.handle) is False
    assert await remote.revoke_session(user.id, "0" * 32) is False
    assert await remote.revoke_session(user.id, laptop.handle) is True
    assert await remote.validate_session(laptop.id) is None
    assert await remote.validate_session(phone.id) is not None
    assert await remote.revoke_session(user.id, laptop.handle) is False

    again = await sign_in_session(remote, "two@example.com", "remote password")
    assert again.handle is not None
    assert await remote.revoke_user_sessions(user.id, except_handle=again.handle) == 1
    assert await remote.validate_session(phone.id) is None
    assert await remote.validate_session(again.id) is not None
    assert await remote.revoke_user_sessions(user.id) == 1
    assert await remote.validate_session(again.id) is None
    assert await remote.list_sessions(user.id) == []
    assert await remote.revoke_user_sessions(user.id) == 0
    assert await remote.revoke_user_sessions("") == 0  # a reset that could not name its user


@pytest.mark.node
async def test_admin_session_revoked_upstream_signs_in_again(node: BetterAuthNode) -> None:
    remote = make_admin_remote(node.base_url)
    user = (await remote.sign_up("again@example.com", "remote password", None, None)).user
    assert await remote.get_user(user.id) is not None
    admin_id = node.post("/sign-in/email", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["user"][
        "id"
    ]
    assert await remote.revoke_user_sessions(admin_id) >= 1  # our own admin session too
    assert (await remote.get_user(user.id)) is not None


@pytest.mark.node
async def test_misconfigured_admin_is_provider_unavailable(
    node: BetterAuthNode, caplog: pytest.LogCaptureFixture
) -> None:
    user = (await make_remote(node.base_url).sign_up("mis@example.com", "remote password", None, None)).user
    wrong_password = make_remote(node.base_url, admin_email=ADMIN_EMAIL, admin_password="not the password")
    node_sign_up(node, "plain@example.com", "plain password")
    not_admin = make_remote(node.base_url, admin_email="plain@example.com", admin_password="plain password")
    with caplog.at_level("ERROR", logger="mastra.auth.better"):
        for remote in (wrong_password, not_admin):
            with pytest.raises(ProviderUnavailable) as caught:
                await remote.get_user(user.id)
            assert caught.value.status == 503
            with pytest.raises(ProviderUnavailable):
                await remote.list_sessions(user.id)
        # A Better Auth without the admin plugin answers its routes 404 without a code.
        missing = make_admin_remote(node.base_url)
        assert isinstance(missing, AdminRemoteBetterAuth)
        with pytest.raises(ProviderUnavailable):
            await missing.admin.call("GET", "/admin/no-such-endpoint")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "admin_email/admin_password" in messages and "needs the admin role" in messages
    assert "enable its admin plugin" in messages


async def test_admin_calls_with_the_server_down_are_provider_unavailable() -> None:
    remote = make_admin_remote(f"http://127.0.0.1:{free_port()}/api/auth", timeout=2)
    assert isinstance(remote, AdminRemoteBetterAuth)
    for call in (
        remote.get_user("u1"),
        remote.list_sessions("u1"),
        remote.revoke_session("u1", "h1"),
        remote.revoke_user_sessions("u1"),
    ):
        with pytest.raises(ProviderUnavailable):
            await call


# -- through our server --------------------------------------------------------------------


def remote_app(sqlite_url: str, base_url: str, **better: Any) -> Any:
    from mastra.core.server import create_app

    options = {"mode": "remote", "base_url": base_url, **better}
    settings = make_settings(
        sqlite_url,
        auth={
            "user": "better",
            "credentials": "better",
            "session": "better",
            "rbac": "static",
            "audit_storage": "memory",
            "options": {"better": options},
        },
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    return create_app(settings, auth=build_auth(settings, registry), registry=registry, reset_delay=0.01)


class Browsers:
    """Browsers (cookie jars) on the test app, closed at teardown."""

    def __init__(self) -> None:
        self.opened: list[httpx.AsyncClient] = []

    def new(self, app: Any) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=ORIGIN, headers={"origin": ORIGIN}
        )
        self.opened.append(client)
        return client

    async def signed_in(self, app: Any, email: str, password: str) -> httpx.AsyncClient:
        client = self.new(app)
        body = {"email": email, "password": password}
        response = await client.post("/api/auth/credentials/sign-in", json=body)
        assert response.status_code == 200, response.text
        return client


@pytest.fixture
async def browsers():
    opened = Browsers()
    yield opened
    for client in opened.opened:
        await client.aclose()


async def is_signed_out(client: httpx.AsyncClient) -> bool:
    """``/auth/me`` answers ``null`` (the Mastra client's "signed out") and a route that
    needs a session answers 401."""
    me = await client.get("/api/auth/me")
    return (
        me.status_code == 200
        and me.json() is None
        and (await client.get("/api/auth/sessions")).status_code == 401
    )


async def delivered_token(node: BetterAuthNode, email: str) -> str:
    """The reset token Better Auth mailed (our route asks for the mail in the background)."""
    for _ in range(100):
        tokens = [m["token"] for m in node.outbox() if m["email"] == email]
        if tokens:
            return str(tokens[-1])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no reset mail for {email}")


def admin_options() -> dict[str, str]:
    return {"admin_email": ADMIN_EMAIL, "admin_password": ADMIN_PASSWORD}


@pytest.mark.node
async def test_session_routes_in_remote_mode(
    node: BetterAuthNode, sqlite_url: str, browsers: Browsers
) -> None:
    app = remote_app(sqlite_url, node.base_url, **admin_options())
    node_sign_up(node, "web@example.com", "web password")
    first, second, third = [await browsers.signed_in(app, "web@example.com", "web password") for _ in "123"]
    listed = await first.get("/api/auth/sessions")
    assert listed.status_code == 200, listed.text
    sessions = listed.json()["sessions"]
    assert len(sessions) == 4  # the sign-up's session and three browsers
    assert sum(s["current"] for s in sessions) == 1
    assert all(s["handle"] and s["expiresAt"] for s in sessions)
    mine = next(s["handle"] for s in sessions if s["current"])
    second_handle = next(
        s["handle"] for s in (await second.get("/api/auth/sessions")).json()["sessions"] if s["current"]
    )

    revoked = await first.delete(f"/api/auth/sessions/{second_handle}")
    assert revoked.status_code == 200, revoked.text
    assert await is_signed_out(second)
    assert not await is_signed_out(first)
    assert (await first.delete(f"/api/auth/sessions/{second_handle}")).status_code == 404

    others = await first.delete("/api/auth/sessions")
    assert others.status_code == 200 and others.json() == {"revoked": 2}
    assert await is_signed_out(third)
    remaining = (await first.get("/api/auth/sessions")).json()["sessions"]
    assert [s["handle"] for s in remaining] == [mine]


@pytest.mark.node
async def test_sessions_route_without_admin_is_not_offered(
    node: BetterAuthNode, sqlite_url: str, browsers: Browsers
) -> None:
    app = remote_app(sqlite_url, node.base_url)
    node_sign_up(node, "na@example.com", "web password")
    client = await browsers.signed_in(app, "na@example.com", "web password")
    response = await client.get("/api/auth/sessions")
    assert response.status_code == 404
    assert response.json()["error"] == "Session management not supported"


@pytest.mark.node
async def test_sessions_route_with_a_broken_admin_is_503(
    node: BetterAuthNode, sqlite_url: str, browsers: Browsers
) -> None:
    app = remote_app(sqlite_url, node.base_url, admin_email=ADMIN_EMAIL, admin_password="wrong password")
    node_sign_up(node, "b@example.com", "web password")
    client = await browsers.signed_in(app, "b@example.com", "web password")
    response = await client.get("/api/auth/sessions")
    assert response.status_code == 503
    assert set(response.json()) >= {"error", "message"}
    assert (await client.delete("/api/auth/sessions")).status_code == 503


@pytest.mark.node
async def test_password_reset_kills_every_session(
    node: BetterAuthNode, sqlite_url: str, browsers: Browsers
) -> None:
    app = remote_app(sqlite_url, node.base_url, **admin_options())
    node_sign_up(node, "rs@example.com", "old password")
    laptop = await browsers.signed_in(app, "rs@example.com", "old password")
    phone = await browsers.signed_in(app, "rs@example.com", "old password")
    anonymous = browsers.new(app)
    old_cookie = "; ".join(f"{k}={v}" for k, v in laptop.cookies.items())
    assert not await is_signed_out(laptop)
    asked = await anonymous.post("/api/auth/credentials/password-reset", json={"email": "rs@example.com"})
    assert asked.status_code == 202, asked.text
    token = await delivered_token(node, "rs@example.com")
    confirmed = await anonymous.post(
        "/api/auth/credentials/password-reset/confirm",
        json={"token": token, "password": "new password 1"},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert await is_signed_out(laptop)
    assert await is_signed_out(phone)
    upstream = node.get("/get-session", cookie=old_cookie)
    assert upstream.status_code == 200 and upstream.json() is None
    fresh = await browsers.signed_in(app, "rs@example.com", "new password 1")
    assert not await is_signed_out(fresh)


# -- conformance suites --------------------------------------------------------------------


@pytest.mark.node
@pytest.mark.slow
class TestAdminRemoteUsers(UserProviderConformance):
    @pytest.fixture
    def provider(self, node: BetterAuthNode) -> RemoteBetterAuth:
        return make_admin_remote(node.base_url)

    async def sign_in(self, provider: Any, email: str) -> tuple[EEUser, Request]:
        try:
            result = await provider.sign_up(email, "conformance password", None, None)
        except Exception:
            result = await provider.sign_in(email, "conformance password", None)
        return result.user, signed_in_request(result)


@pytest.mark.node
@pytest.mark.slow
class TestAdminRemoteSessions(SessionProviderConformance):
    controls_clock = False
    clock_skip_reason = "Better Auth's server clock decides session lifetimes (expiresIn, updateAge)"
    preserves_metadata = False  # Better Auth keeps only ipAddress and userAgent
    absolute_timeout = 604800  # Better Auth's expiresIn

    @pytest.fixture
    def provider(self, node: BetterAuthNode) -> RemoteBetterAuth:
        return make_admin_remote(node.base_url)

    @pytest.fixture
    async def user_ids(self, provider: RemoteBetterAuth) -> tuple[str, str]:
        self.emails: dict[str, str] = {}
        for email in ("one.sessions@example.com", "two.sessions@example.com"):
            user = (await provider.sign_up(email, "conformance password", None, None)).user
            await provider.revoke_user_sessions(user.id)  # the sign-up's session is not the suite's
            self.emails[user.id] = email
        first, second = self.emails
        return first, second

    async def new_session(self, provider: Any, user_id: str, metadata: dict[str, Any]) -> Session:
        meta = {k: metadata[k] for k in ("ip", "userAgent") if k in metadata}
        return await sign_in_session(provider, self.emails[user_id], "conformance password", **meta)
