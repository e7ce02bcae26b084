"""Embedded-mode behaviour beyond the conformance suites: roles, admin helpers,
revocation on disable/password change/reset, wiring with the core cookie sessions."""

from __future__ import annotations

import asyncio

import pytest
from mastra.auth.better import EmbeddedBetterAuth, sign_token
from mastra.auth.better.plugin import plugin as better_plugin
from mastra.core.ee.db import get_engine
from mastra.core.ee.errors import InvalidCredentials, SignUpFailed
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.sessions import CookieSessionProvider
from mastra.core.testing.sessions import cookie_pairs, request_with_cookies
from sqlalchemy import text

from .conftest import SECRET, make_embedded, make_settings

PASSWORD = "a good password"


async def test_first_user_is_owner_then_default_role(database_url: str) -> None:
    provider = make_embedded(database_url, default_role="member")
    first = await provider.sign_up("first@example.com", PASSWORD, None, None)
    second = await provider.sign_up("second@example.com", PASSWORD, None, None)
    assert first.user.metadata["role"] == "owner"
    assert second.user.metadata["role"] == "member"
    assert await provider.count_users() == 2


async def test_concurrent_first_sign_ups_make_exactly_one_owner(database_url: str) -> None:
    provider = make_embedded(database_url)
    results = await asyncio.gather(
        *(provider.sign_up(f"racer{i}@example.com", PASSWORD, None, None) for i in range(4))
    )
    roles = sorted(r.user.metadata["role"] for r in results)
    assert roles == ["owner", "viewer", "viewer", "viewer"]


async def test_cli_helpers(database_url: str) -> None:
    provider = make_embedded(database_url)
    admin = await provider.create_user("Admin@Example.com", PASSWORD, name="Ada", role="admin")
    assert admin.metadata["role"] == "admin" and admin.name == "Ada"
    user = await provider.create_user("user@example.com", PASSWORD)
    assert user.metadata["role"] == "viewer"  # an explicit role on the first user skips "owner"
    listed = await provider.list_users()
    assert [u["email"] for u in listed] == ["admin@example.com", "user@example.com"]
    assert set(listed[0]) == {"id", "email", "name", "role", "disabled", "created"}
    assert await provider.set_role("USER@example.com", "member") == ("viewer", "member")
    assert (await provider.get_user(user.id)).metadata["role"] == "member"
    await provider.set_user_role(user.id, "admin")
    assert (await provider.get_user(user.id)).metadata["role"] == "admin"
    with pytest.raises(LookupError):
        await provider.set_role("ghost@example.com", "admin")
    with pytest.raises(LookupError):
        await provider.set_user_role("no-such-id", "admin")
    with pytest.raises(SignUpFailed):
        await provider.create_user("user@example.com", PASSWORD)


async def test_get_users_is_positional(database_url: str) -> None:
    provider = make_embedded(database_url)
    a = (await provider.sign_up("a@example.com", PASSWORD, None, None)).user
    b = (await provider.sign_up("b@example.com", PASSWORD, None, None)).user
    found = await provider.get_users([b.id, "missing", a.id, b.id])
    assert [u.id if u else None for u in found] == [b.id, None, a.id, b.id]
    assert await provider.get_user("missing") is None


async def test_disable_revokes_sessions_and_blocks_sign_in(database_url: str) -> None:
    provider = make_embedded(database_url)
    result = await provider.sign_up("mallory@example.com", PASSWORD, None, None)
    request = request_with_cookies(cookie_pairs([("set-cookie", c) for c in result.cookies]))
    assert (await provider.get_current_user(request)).id == result.user.id
    disabled = await provider.disable_user("mallory@example.com")
    assert disabled.metadata["banned"] is True
    assert await provider.is_user_disabled(result.user.id)
    assert await provider.get_current_user(request) is None
    assert await provider.list_sessions(result.user.id) == []
    with pytest.raises(InvalidCredentials) as caught:
        await provider.sign_in("mallory@example.com", PASSWORD, None)
    assert caught.value.reason == "disabled"
    assert (await provider.list_users())[0]["disabled"] is True


async def test_change_password_revokes_every_session(database_url: str) -> None:
    provider = make_embedded(database_url)
    result = await provider.sign_up("pat@example.com", PASSWORD, None, None)
    await provider.sign_in("pat@example.com", PASSWORD, None)
    assert len(await provider.list_sessions(result.user.id)) == 2
    with pytest.raises(InvalidCredentials):
        await provider.change_password(result.user.id, "wrong password", "a newer password")
    await provider.change_password(result.user.id, PASSWORD, "a newer password")
    assert await provider.list_sessions(result.user.id) == []
    await provider.sign_in("pat@example.com", "a newer password", None)


async def test_bearer_token_is_signed_before_lookup(sqlite_url: str) -> None:
    provider = make_embedded(sqlite_url)
    result = await provider.sign_up("bear@example.com", PASSWORD, None, None)
    assert result.token and "." not in result.token
    assert (await provider.authenticate_token(result.token, None)).id == result.user.id
    assert (await provider.authenticate_token(sign_token(result.token, SECRET), None)).id == result.user.id
    # Another last character (a token ending in "x" made "+ 'x'" the same token: CI flake).
    tampered = result.token[:-1] + ("y" if result.token.endswith("x") else "x")
    assert await provider.authenticate_token(tampered, None) is None
    assert await provider.authenticate_token(sign_token(result.token, "y" * 40), None) is None
    assert await provider.authenticate_token("", None) is None


async def test_sessions_by_another_secret_are_rejected(sqlite_url: str) -> None:
    ours = make_embedded(sqlite_url)
    result = await ours.sign_up("eve@example.com", PASSWORD, None, None)
    theirs = make_embedded(sqlite_url, secret="another-secret-0123456789abcdefghijkl")
    request = request_with_cookies(cookie_pairs([("set-cookie", c) for c in result.cookies]))
    assert await theirs.get_current_user(request) is None
    assert (await ours.get_current_user(request)).id == result.user.id


async def test_node_style_rows_are_read(sqlite_url: str) -> None:
    """Rows as Better Auth writes them: NULL role, ISO dates, integer booleans, epoch dates."""
    provider = make_embedded(sqlite_url, default_role="member")
    await provider.store.ready()
    engine = get_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                'INSERT INTO "user" (id, name, email, "emailVerified", image, "createdAt", '
                "\"updatedAt\", role, banned) VALUES ('n1', 'Node', 'node@example.com', 1, "
                "'https://img/x.png', '2026-11-27T15:54:48.456Z', 1764258888456, NULL, NULL)"
            )
        )
    user = await provider.get_user("n1")
    assert user.metadata == {
        "role": "member",
        "emailVerified": True,
        "createdAt": "2026-11-27T15:54:48.456Z",
        "updatedAt": "2025-11-27T15:54:48.456Z",
    }
    assert user.avatar_url == "https://img/x.png"
    assert not await provider.is_user_disabled("n1")


async def test_user_table_without_role_columns_is_extended(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                'CREATE TABLE "user" ("id" text not null primary key, "name" text not null, '
                '"email" text not null unique, "emailVerified" integer not null, "image" text, '
                '"createdAt" date not null, "updatedAt" date not null)'
            )
        )
    provider = make_embedded(sqlite_url)
    result = await provider.sign_up("late@example.com", PASSWORD, None, None)
    assert result.user.metadata["role"] == "owner"


async def test_default_wiring_uses_core_cookie_sessions(sqlite_url: str) -> None:
    """SPEC 1.4 embedded default: user/credentials = better, session = cookie."""
    settings = make_settings(sqlite_url)
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    auth = build_auth(settings, registry)
    assert isinstance(auth.user, EmbeddedBetterAuth) and auth.credentials is auth.user
    assert isinstance(auth.session, CookieSessionProvider)
    assert not auth.user.uses_own_sessions

    result = await auth.credentials.sign_up("dora@example.com", PASSWORD, None, None)
    assert result.cookies == [] and result.token is None  # the session slot issues the session
    session = await auth.session.create_session(result.user.id, {})
    request = request_with_cookies(cookie_pairs(auth.session.get_session_headers(session)))
    assert (await auth.authenticate(request)).id == result.user.id
    assert (await auth.user.authenticate_token(session.id, None)).id == result.user.id

    # Disabling revokes the core registry's sessions too.
    await auth.user.disable_user("dora@example.com")
    assert await auth.session.validate_session(session.id) is None
    assert await auth.authenticate(request) is None


async def test_reset_revokes_core_cookie_sessions(sqlite_url: str) -> None:
    outbox: list[tuple[str, str]] = []

    async def sender(email: str, url: str) -> None:
        outbox.append((email, url))

    settings = make_settings(
        sqlite_url,
        auth={
            "user": "better",
            "credentials": "better",
            "session": "cookie",
            "options": {"better": {"reset_sender": sender}},
        },
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    auth = build_auth(settings, registry)
    user = (await auth.credentials.sign_up("rita@example.com", PASSWORD, None, None)).user
    session = await auth.session.create_session(user.id, {})
    await auth.credentials.request_password_reset("rita@example.com", "http://x/reset-password")
    token = outbox[-1][1].split("token=", 1)[1]
    assert await auth.credentials.reset_password(token, "my new password!") == user.id
    assert await auth.session.validate_session(session.id) is None


async def test_session_better_wiring_shares_one_instance(sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url, auth={"user": "better", "credentials": "better", "session": "better"}
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    auth = build_auth(settings, registry)
    assert auth.user is auth.session is auth.credentials
    assert auth.user.uses_own_sessions and auth.user.owns_sessions is False
    result = await auth.credentials.sign_up("sam@example.com", PASSWORD, None, None)
    assert result.token and result.cookies[0].startswith("better-auth.session_token=")
    request = request_with_cookies(cookie_pairs([("set-cookie", c) for c in result.cookies]))
    assert (await auth.authenticate(request)).id == result.user.id


async def test_dev_reset_without_sender_logs_the_link(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_embedded(sqlite_url)
    await provider.sign_up("logme@example.com", PASSWORD, None, None)
    with caplog.at_level("WARNING", logger="mastra.auth.better"):
        await provider.request_password_reset("logme@example.com", "http://x/reset-password")
        await provider.request_password_reset("ghost@example.com", "http://x/reset-password")
    links = [r for r in caplog.records if "reset-password?token=" in r.getMessage()]
    assert len(links) == 1 and "logme@example.com" in links[0].getMessage()
