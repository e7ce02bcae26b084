"""Embedded mode and a real Better Auth 1.7.25 server on the same SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from mastra.auth.better import EmbeddedBetterAuth
from mastra.core.ee.errors import InvalidCredentials
from mastra.core.testing.sessions import cookie_pairs, request_with_cookies

from ._node_peer import BetterAuthNode
from .conftest import SECRET, make_embedded

pytestmark = [pytest.mark.node, pytest.mark.slow]


def _cookie_of(response) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("better-auth.session_token="):
            return header.split(";", 1)[0]
    raise AssertionError("no session cookie")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "shared.db"


@pytest.fixture
def node(db_path: Path):
    with BetterAuthNode(db_path, SECRET) as server:
        yield server


@pytest.fixture
def embedded(db_path: Path, node: BetterAuthNode) -> EmbeddedBetterAuth:
    # Started after Node migrated the file: Python adopts Better Auth's own schema.
    return make_embedded(f"sqlite+aiosqlite:///{db_path}")


async def test_node_user_signs_in_through_python(node: BetterAuthNode, embedded: EmbeddedBetterAuth) -> None:
    response = node.post(
        "/sign-up/email", {"email": "Node.User@Example.com", "password": "node password 1", "name": "N"}
    )
    assert response.status_code == 200, response.text
    node_id = response.json()["user"]["id"]
    result = await embedded.sign_in("node.user@example.com", "node password 1", None)
    assert result.user.id == node_id
    assert result.user.metadata["role"] == "viewer"  # admin plugin defaultRole
    with pytest.raises(InvalidCredentials):
        await embedded.sign_in("node.user@example.com", "node password 2", None)


async def test_python_user_signs_in_through_node(node: BetterAuthNode, embedded: EmbeddedBetterAuth) -> None:
    created = await embedded.sign_up("py@example.com", "python password", "Py", None)
    assert created.user.metadata["role"] == "owner"
    response = node.post("/sign-in/email", {"email": "py@example.com", "password": "python password"})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == created.user.id
    assert response.json()["user"]["role"] == "owner"
    bad = node.post("/sign-in/email", {"email": "py@example.com", "password": "python passwordX"})
    assert bad.status_code == 401


async def test_nfkc_password_across_sides(node: BetterAuthNode, embedded: EmbeddedBetterAuth) -> None:
    await embedded.sign_up("nfkc@example.com", "ｓｔａｐｌｅ①②③", None, None)
    assert (
        node.post("/sign-in/email", {"email": "nfkc@example.com", "password": "staple123"}).status_code == 200
    )
    node.post("/sign-up/email", {"email": "nfkc2@example.com", "password": "staple123", "name": "x"})
    await embedded.sign_in("nfkc2@example.com", "ｓｔａｐｌｅ①②③", None)


async def test_node_cookie_is_accepted_by_python(node: BetterAuthNode, embedded: EmbeddedBetterAuth) -> None:
    response = node.post(
        "/sign-up/email", {"email": "c1@example.com", "password": "cookie password", "name": "C"}
    )
    cookie = _cookie_of(response)
    request = request_with_cookies(cookie)
    user = await embedded.get_current_user(request)
    assert user is not None and user.id == response.json()["user"]["id"]
    assert (await embedded.authenticate_token(response.json()["token"], None)).id == user.id
    # Tampered: one character of the signature changed.
    name, value = cookie.split("=", 1)
    forged = value[:-4] + ("A" if value[-4] != "A" else "B") + value[-3:]
    assert await embedded.get_current_user(request_with_cookies(f"{name}={forged}")) is None
    # Python lists and revokes the Node session; Node then refuses the cookie.
    sessions = await embedded.list_sessions(user.id)
    assert len(sessions) == 1
    assert await embedded.revoke_session(user.id, sessions[0].handle)
    assert node.get("/get-session", cookie).json() is None


async def test_python_cookie_is_accepted_by_node(node: BetterAuthNode, embedded: EmbeddedBetterAuth) -> None:
    result = await embedded.sign_up("c2@example.com", "cookie password", "C2", None)
    pairs = cookie_pairs([("set-cookie", c) for c in result.cookies])
    cookie = "; ".join(f"{k}={v}" for k, v in pairs.items())
    body = node.get("/get-session", cookie).json()
    assert body["user"]["id"] == result.user.id
    assert body["session"]["userId"] == result.user.id
    # Bearer-less sign-out on Node destroys the Python-issued session.
    assert node.post("/sign-out", {}, cookie).status_code == 200
    assert await embedded.get_current_user(request_with_cookies(pairs)) is None


async def test_password_change_on_node_works_in_python(
    node: BetterAuthNode, embedded: EmbeddedBetterAuth
) -> None:
    response = node.post(
        "/sign-up/email", {"email": "chg@example.com", "password": "first password", "name": "x"}
    )
    cookie = _cookie_of(response)
    changed = node.post(
        "/change-password",
        {"currentPassword": "first password", "newPassword": "second password", "revokeOtherSessions": True},
        cookie,
    )
    assert changed.status_code == 200, changed.text
    await embedded.sign_in("chg@example.com", "second password", None)
    with pytest.raises(InvalidCredentials):
        await embedded.sign_in("chg@example.com", "first password", None)


async def test_password_change_in_python_works_on_node(
    node: BetterAuthNode, embedded: EmbeddedBetterAuth
) -> None:
    result = await embedded.sign_up("chg2@example.com", "first password", None, None)
    node_login = node.post("/sign-in/email", {"email": "chg2@example.com", "password": "first password"})
    node_cookie = _cookie_of(node_login)
    await embedded.change_password(result.user.id, "first password", "second password")
    assert node.get("/get-session", node_cookie).json() is None  # revoked everywhere
    assert (
        node.post("/sign-in/email", {"email": "chg2@example.com", "password": "first password"}).status_code
        == 401
    )
    assert (
        node.post("/sign-in/email", {"email": "chg2@example.com", "password": "second password"}).status_code
        == 200
    )


async def test_ban_in_python_is_enforced_by_node(node: BetterAuthNode, embedded: EmbeddedBetterAuth) -> None:
    await embedded.sign_up("ban@example.com", "banned password", None, None)
    await embedded.disable_user("ban@example.com")
    refused = node.post("/sign-in/email", {"email": "ban@example.com", "password": "banned password"})
    assert refused.status_code == 403 and refused.json()["code"] == "BANNED_USER"


async def test_python_created_schema_is_used_by_node(tmp_path: Path) -> None:
    """The other order: Python creates the tables, then a Node server (which migrates only
    what is missing: the admin plugin's extra columns) shares them."""
    db_path = tmp_path / "python-first.db"
    embedded = make_embedded(f"sqlite+aiosqlite:///{db_path}")
    created = await embedded.sign_up("first@example.com", "python password", None, None)
    with BetterAuthNode(db_path, SECRET) as node:
        response = node.post("/sign-in/email", {"email": "first@example.com", "password": "python password"})
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == created.user.id
        other = node.post(
            "/sign-up/email", {"email": "second@example.com", "password": "node password", "name": "S"}
        )
        assert other.status_code == 200, other.text
    assert (
        await embedded.sign_in("second@example.com", "node password", None)
    ).user.email == "second@example.com"
