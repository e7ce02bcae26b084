"""The Better Auth session cookie follows the project's one ``Secure`` rule (S8,
``mastra.core.ee.crypto.uses_secure_cookies``) while keeping Better Auth's own naming
(``__Secure-<prefix>.session_token`` when its issuer is secure, SPEC 10.2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mastra.auth.better import EmbeddedBetterAuth, RemoteBetterAuth
from mastra.core.ee.crypto import uses_secure_cookies
from mastra.core.ee.models import Session, utcnow
from mastra.core.ee.options import as_provider_options
from mastra.core.ee.settings import Settings

from .conftest import SECRET

PASSWORD = "a good password"

# (env, public URL) -> Secure expected, by the S8 rule.
SETTINGS = [
    ("production", "http://10.0.0.5:4111", True),  # production over http: still Secure
    ("production", None, True),
    ("production", "https://app.example", True),
    ("development", "https://app.example", True),
    ("development", "http://127.0.0.1:4111", False),
    ("development", None, False),
]


def settings_for(env: str, public_url: str | None, database_url: str) -> Settings:
    return Settings(env=env, public_url=public_url, database_url=database_url, auth_secret=SECRET)


def embedded(settings: Settings) -> EmbeddedBetterAuth:
    return EmbeddedBetterAuth.from_options(as_provider_options({}, settings))


def remote(settings: Settings, base_url: str) -> RemoteBetterAuth:
    return RemoteBetterAuth.from_options(
        as_provider_options({"mode": "remote", "base_url": base_url}, settings)
    )


def attributes(header: str) -> list[str]:
    return [part.strip() for part in header.split(";")[1:]]


@pytest.mark.parametrize(("env", "public_url", "secure"), SETTINGS)
async def test_embedded_session_cookie_follows_the_s8_rule(
    env: str, public_url: str | None, secure: bool, sqlite_url: str
) -> None:
    settings = settings_for(env, public_url, sqlite_url)
    assert uses_secure_cookies(production=settings.is_production, public_url=public_url) is secure
    provider = embedded(settings)
    result = await provider.sign_up("cookie@example.com", PASSWORD, None, None)
    (header,) = result.cookies
    name = "__Secure-better-auth.session_token" if secure else "better-auth.session_token"
    assert header.startswith(f"{name}=")
    assert ("Secure" in attributes(header)) is secure
    for cleared in provider.get_clear_session_headers():
        assert ("Secure" in attributes(cleared[1])) is secure


@pytest.mark.parametrize(("env", "public_url", "secure"), SETTINGS)
@pytest.mark.parametrize("server", ["http://127.0.0.1:3005/api/auth", "https://auth.example/api/auth"])
async def test_remote_session_cookie_follows_the_s8_rule(
    env: str, public_url: str | None, secure: bool, server: str, sqlite_url: str
) -> None:
    provider = remote(settings_for(env, public_url, sqlite_url), server)
    now = utcnow()
    session = Session(id="tok.sig", user_id="u1", created_at=now, expires_at=now + timedelta(hours=1))
    ((_, header),) = provider.get_session_headers(session)
    # The name is the one the Better Auth server at base_url gives its cookie (its rule);
    # Secure also when that name carries the __Secure- prefix (browsers require it).
    server_secure = server.startswith("https://")
    name = "__Secure-better-auth.session_token" if server_secure else "better-auth.session_token"
    assert header.startswith(f"{name}=tok.sig;")
    assert ("Secure" in attributes(header)) is (secure or server_secure)
    for _, cleared in provider.get_clear_session_headers():
        assert ("Secure" in attributes(cleared)) is (secure or server_secure)
