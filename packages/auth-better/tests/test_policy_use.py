"""Both Better Auth modes judge passwords, names and e-mails by the core policy (S26).

The conformance suite covers sign-up and reset; these cover what it cannot see: the
remote mode refuses before any request reaches the server, and the embedded mode's
CLI and change-password paths use the same rules.
"""

from __future__ import annotations

from typing import Any

import pytest
from mastra.auth.better import RemoteBetterAuth
from mastra.core.ee.errors import PasswordPolicyError, TextPolicyError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings
from mastra.core.testing.servers import free_port

from .conftest import SECRET, make_embedded


def _remote_without_server() -> RemoteBetterAuth:
    # Nothing listens on the port: any request would raise ProviderUnavailable.
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", auth_secret=SECRET)
    return RemoteBetterAuth.from_options(
        ProviderOptions(
            {"mode": "remote", "base_url": f"http://127.0.0.1:{free_port()}/api/auth", "timeout": 2},
            settings,
        )
    )


@pytest.mark.parametrize(
    ("email", "password", "name", "error", "message"),
    [
        ("a@example.com", "password", None, PasswordPolicyError, "Password is too common"),
        ("a@example.com", "ｐａｓｓｗｏｒｄ", None, PasswordPolicyError, "Password is too common"),
        ("a@example.com", "\u3000" * 8, None, PasswordPolicyError, "Password must not be only whitespace"),
        ("a@example.com", "éà" * 64, None, PasswordPolicyError, "Password must be at most 128 bytes"),
        (
            "a@example.com",
            "correct horse battery",
            "evil\u202egnp.exe",
            TextPolicyError,
            "Name must not contain a bidirectional control character (U+202E)",
        ),
        (
            "a\u200b@example.com",
            "correct horse battery",
            None,
            TextPolicyError,
            "Email must not contain an invisible format character (U+200B)",
        ),
    ],
)
async def test_remote_sign_up_refuses_before_calling_the_server(
    email: str, password: str, name: str | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        await _remote_without_server().sign_up(email, password, name, None)
    assert getattr(caught.value, "message", None) == message


async def test_remote_reset_refuses_before_calling_the_server() -> None:
    with pytest.raises(PasswordPolicyError, match="single repeated character"):
        await _remote_without_server().reset_password("some-token", "aaaaaaaa")


async def test_embedded_cli_create_user_uses_the_policy(database_url: str) -> None:
    provider: Any = make_embedded(database_url)
    with pytest.raises(PasswordPolicyError, match="too common"):
        await provider.create_user("cli@example.com", "12345678", None, role="admin")
    with pytest.raises(TextPolicyError, match=r"Name must not contain a control character \(U\+001B\)"):
        await provider.create_user("cli@example.com", "correct horse battery", "Ann\x1b[2J", role="admin")
    assert await provider.list_users() == []
    user = await provider.create_user("cli@example.com", "correct horse battery", "Ann Lee", role="admin")
    assert user.name == "Ann Lee"


async def test_embedded_change_password_uses_the_policy(database_url: str) -> None:
    provider: Any = make_embedded(database_url)
    user = await provider.create_user("change@example.com", "correct horse battery")
    with pytest.raises(PasswordPolicyError, match="too common"):
        await provider.change_password(user.id, "correct horse battery", "iloveyou")
    await provider.sign_in("change@example.com", "correct horse battery", None)
