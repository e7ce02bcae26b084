"""Remote mode: a real Better Auth server over REST, plus a down and a slow server."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from mastra.auth.better import RemoteBetterAuth
from mastra.auth.better.plugin import plugin as better_plugin
from mastra.core.ee.errors import (
    ConfigurationError,
    InvalidCredentials,
    PasswordPolicyError,
    ProviderUnavailable,
    SignUpFailed,
)
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings
from mastra.core.testing.credentials import RESET_URL, CredentialsProviderConformance
from mastra.core.testing.servers import BackgroundServer, free_port
from mastra.core.testing.sessions import cookie_pairs, request_with_cookies
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ._node_peer import BetterAuthNode
from .conftest import SECRET

TRUSTED = ("http://127.0.0.1:4111",)  # the conformance suite's reset URL origin


def make_remote(base_url: str, **options: Any) -> RemoteBetterAuth:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", auth_secret=SECRET)
    return RemoteBetterAuth.from_options(
        ProviderOptions({"mode": "remote", "base_url": base_url, **options}, settings)
    )


@pytest.fixture
def node(tmp_path: Path):
    with BetterAuthNode(tmp_path / "remote.db", SECRET, trusted=TRUSTED) as server:
        yield server


# -- against the real server ---------------------------------------------------------------


@pytest.mark.node
async def test_sign_up_sign_in_current_user_sign_out(node: BetterAuthNode) -> None:
    remote = make_remote(node.base_url)
    signed_up = await remote.sign_up(" Rem@Example.com", "remote password", "Rem", request_with_cookies())
    assert signed_up.user.email == "rem@example.com" and signed_up.token
    assert signed_up.cookies and signed_up.cookies[0].startswith("better-auth.session_token=")

    result = await remote.sign_in("rem@example.com", "remote password", None)
    assert result.user.id == signed_up.user.id
    request = request_with_cookies(cookie_pairs([("set-cookie", c) for c in result.cookies]))
    current = await remote.get_current_user(request)
    assert current is not None and current.id == result.user.id and current.metadata["role"] == "viewer"
    assert (await remote.authenticate_token(result.token, None)).id == result.user.id

    session_id = remote.get_session_id_from_request(request)
    session = await remote.validate_session(session_id)
    assert session is not None and session.user_id == result.user.id and session.handle
    refreshed = await remote.refresh_session(session_id)
    assert refreshed is not None and refreshed.user_id == result.user.id
    header = remote.get_session_headers(session)[0][1]
    assert header.startswith(f"better-auth.session_token={session_id};")

    await remote.destroy_session(session_id)
    assert await remote.get_current_user(request) is None
    assert await remote.validate_session(session_id) is None
    await remote.destroy_session(session_id)  # idempotent


@pytest.mark.node
async def test_wrong_password_unknown_user_and_errors(node: BetterAuthNode) -> None:
    remote = make_remote(node.base_url)
    await remote.sign_up("err@example.com", "remote password", None, None)
    for email, password in (("err@example.com", "wrong password"), ("nobody@example.com", "remote password")):
        with pytest.raises(InvalidCredentials) as caught:
            await remote.sign_in(email, password, None)
        assert caught.value.reason == "invalid_credentials"
    with pytest.raises(SignUpFailed) as duplicate:
        await remote.sign_up("ERR@example.com", "remote password", None, None)
    assert duplicate.value.reason == "duplicate_email"
    with pytest.raises(PasswordPolicyError):
        await remote.sign_up("short@example.com", "short", None, None)


@pytest.mark.node
async def test_tampered_cookie_and_bearer(node: BetterAuthNode) -> None:
    remote = make_remote(node.base_url)
    result = await remote.sign_up("tamper@example.com", "remote password", None, None)
    name, value = result.cookies[0].split(";", 1)[0].split("=", 1)
    # A character inside the signature: every one of its bits counts (the last one before
    # the padding carries unused bits, so changing it can decode to the same bytes).
    forged = value[:-10] + ("A" if value[-10] != "A" else "B") + value[-9:]
    assert await remote.get_current_user(request_with_cookies({name: forged})) is None
    changed = result.token[:-1] + ("0" if result.token[-1] != "0" else "1")  # never the same token
    assert await remote.authenticate_token(changed, None) is None
    assert await remote.validate_session("x" * 5000) is None


@pytest.mark.node
async def test_bad_origin_is_provider_unavailable(
    node: BetterAuthNode, caplog: pytest.LogCaptureFixture
) -> None:
    remote = make_remote(node.base_url, origin="http://evil.example")
    with caplog.at_level("ERROR", logger="mastra.auth.better"), pytest.raises(ProviderUnavailable) as caught:
        await remote.sign_in("x@example.com", "remote password", None)
    assert caught.value.status == 503
    assert any("trustedOrigins" in r.getMessage() for r in caplog.records)


@pytest.mark.node
async def test_plugin_wiring_requires_better_sessions(node: BetterAuthNode) -> None:
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    options = {"better": {"mode": "remote", "base_url": node.base_url}}
    bad = Settings(auth_secret=SECRET, auth={"user": "better", "session": "memory", "options": options})
    with pytest.raises(ConfigurationError, match="MASTRA_AUTH__SESSION=better"):
        build_auth(bad, registry)
    good = Settings(
        auth_secret=SECRET,
        auth={"user": "better", "session": "better", "credentials": "better", "options": options},
    )
    auth = build_auth(good, registry)
    assert isinstance(auth.user, RemoteBetterAuth) and auth.user is auth.session is auth.credentials


class NodeOutbox(list):
    """The Node server's delivered reset links, as ``(email, RESET_URL?token=...)``."""

    def __init__(self, node: BetterAuthNode) -> None:
        super().__init__()
        self.node = node

    def _sync(self) -> None:
        super().clear()
        super().extend((m["email"], f"{RESET_URL}?token={m['token']}") for m in self.node.outbox())

    def __len__(self) -> int:
        self._sync()
        return super().__len__()

    def __getitem__(self, index: Any) -> Any:
        self._sync()
        return super().__getitem__(index)

    def __eq__(self, other: object) -> bool:
        self._sync()
        return list(self) == other


@pytest.mark.node
@pytest.mark.slow
class TestRemoteCredentials(CredentialsProviderConformance):
    reset_returns_user_id = False  # Better Auth's /reset-password answers {status: true}

    @pytest.fixture
    def provider(self, node: BetterAuthNode) -> RemoteBetterAuth:
        return make_remote(node.base_url)

    @pytest.fixture
    def signup_disabled_provider(self, node: BetterAuthNode) -> RemoteBetterAuth:
        return make_remote(node.base_url, sign_up_enabled=False)

    @pytest.fixture
    def reset_outbox(self, node: BetterAuthNode) -> NodeOutbox:
        return NodeOutbox(node)

    @pytest.fixture(autouse=True)
    def _db(self, node: BetterAuthNode) -> None:
        self.db_path = node.db_path

    def _sql(self, statement: str, *params: Any) -> None:
        with sqlite3.connect(self.db_path) as conn:
            conn.execute(statement, params)

    async def disable_user(self, provider: Any, user_id: str) -> None:
        self._sql('UPDATE "user" SET banned = 1 WHERE id = ?', user_id)

    async def expire_reset_tokens(self, provider: Any) -> None:
        self._sql("UPDATE verification SET \"expiresAt\" = '2000-01-01T00:00:00.000Z'")


# -- an unreachable or slow server ---------------------------------------------------------


async def test_server_down_is_provider_unavailable() -> None:
    remote = make_remote(f"http://127.0.0.1:{free_port()}/api/auth", timeout=2)
    with pytest.raises(ProviderUnavailable):
        await remote.sign_in("a@example.com", "some password", None)
    with pytest.raises(ProviderUnavailable):
        await remote.sign_up("a@example.com", "some password", None, None)
    # Never raises for "who is this?": just unauthenticated.
    request = request_with_cookies({"better-auth.session_token": "t.sig"})
    assert await remote.get_current_user(request) is None
    assert await remote.validate_session("t.sig") is None
    await remote.destroy_session("t.sig")
    await remote.request_password_reset("a@example.com", RESET_URL)  # silent


def _slow_app(delay: float) -> Starlette:
    async def slow(request: Any) -> JSONResponse:
        await asyncio.sleep(delay)
        return JSONResponse({"user": {"id": "late"}})

    async def broken(request: Any) -> JSONResponse:
        return JSONResponse({"message": "boom"}, status_code=502)

    return Starlette(
        routes=[
            Route("/slow/{path:path}", slow, methods=["GET", "POST"]),
            Route("/broken/{path:path}", broken, methods=["GET", "POST"]),
        ]
    )


async def test_slow_server_times_out() -> None:
    with BackgroundServer(_slow_app(5)) as server:
        remote = make_remote(f"{server.url}/slow", timeout=0.5)
        start = time.perf_counter()
        with pytest.raises(ProviderUnavailable):
            await remote.sign_in("a@example.com", "some password", None)
        assert time.perf_counter() - start < 3
        broken = make_remote(f"{server.url}/broken", timeout=2)
        with pytest.raises(ProviderUnavailable):
            await broken.sign_up("a@example.com", "some password", None, None)


async def test_remote_rejects_bad_input_without_calling_the_server() -> None:
    remote = make_remote(f"http://127.0.0.1:{free_port()}/api/auth", timeout=2)
    for email, password in (
        ("a@example.com", ""),
        ("a@example.com", "p" * 5000),
        ("not-an-email", "password1"),
    ):
        with pytest.raises(InvalidCredentials):
            await remote.sign_in(email, password, None)
    with pytest.raises(SignUpFailed):
        await remote.sign_up("bad@", "password123", None, None)
    with pytest.raises(PasswordPolicyError):
        await remote.sign_up("a@example.com", "x" * 200, None, None)
    with pytest.raises(NotImplementedError):
        await remote.create_session("u1")
