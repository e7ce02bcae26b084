"""SSO login through the emulator, the sealed ``wos_session`` and its lifecycle."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from joserfc import jwt
from joserfc.jwk import OctKey
from mastra.auth.workos import WorkOSAuthProvider
from mastra.core.ee.crypto import JWKSCache, unverified_claims
from mastra.core.ee.errors import ProviderUnavailable, SSOError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings

CALLBACK = "http://127.0.0.1:4111/api/auth/sso/callback"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.mark.parametrize(
    ("extra", "expected", "button"),
    [
        (
            {"connection": "conn_1", "provider": "GoogleOAuth", "organization": "org_x"},
            {"connection_id": ["conn_1"]},
            "Sign in with Google",
        ),
        (
            {"provider": "GitHubOAuth", "organization": "org_x"},
            {"provider": ["GitHubOAuth"]},
            "Sign in with GitHub",
        ),
        ({"organization": "org_x"}, {"organization_id": ["org_x"]}, "Sign in"),
        ({}, {"provider": ["authkit"]}, "Sign in"),
    ],
)
async def test_login_url_priority_and_button(
    workos_options: dict[str, Any], extra: dict[str, str], expected: dict[str, list[str]], button: str
) -> None:
    p = WorkOSAuthProvider.from_options({**workos_options, **extra})
    url = await p.get_login_url(CALLBACK, "st/ate+1")
    query = _query(url)
    for key, value in expected.items():
        assert query[key] == value
    others = {"connection_id", "provider", "organization_id"} - set(expected)
    assert not others & set(query)
    assert query["state"] == ["st/ate+1"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["client_id"] == [p.options.client_id]
    assert "code_challenge" not in query  # confidential client, no PKCE
    config = p.get_login_button_config()
    assert (config.provider, config.text) == ("workos", button)
    await p.aclose()


async def test_redirect_uri_option_wins(workos_options: dict[str, Any]) -> None:
    p = WorkOSAuthProvider.from_options({**workos_options, "redirect_uri": "https://app.example/cb"})
    assert _query(await p.get_login_url(CALLBACK, "s"))["redirect_uri"] == ["https://app.example/cb"]
    await p.aclose()


async def test_full_login_sets_sealed_cookie_and_maps_user(provider, emulator, login, make_request) -> None:
    user = emulator.add_user("ann@example.com", "Ann", "Lee", profile_picture_url="https://img/ann.png")
    emulator.add_membership(user["id"], "org_01EMULATED", ["admin"])
    emulator.login_as = user["id"]
    url = await provider.get_login_url(CALLBACK, "s1")
    async with httpx.AsyncClient() as browser:
        location = (await browser.get(url)).headers["location"]
    code = _query(location)["code"][0]
    result = await provider.handle_callback(code, "s1")
    (cookie,) = result.cookies
    assert cookie.startswith("wos_session=")
    assert cookie.endswith("; Path=/; HttpOnly; SameSite=Lax")  # no Max-Age, no Secure in dev
    assert result.user.id == user["id"]
    assert result.user.name == "Ann Lee"
    assert result.user.avatar_url == "https://img/ann.png"
    assert result.user.metadata["organizationId"] == "org_01EMULATED"
    assert result.user.metadata["workosId"] == user["id"]
    assert result.user.metadata["emailVerified"] is True
    assert result.tokens.refresh_token and result.tokens.expires_at > datetime.now(UTC)

    sealed = cookie.split(";")[0].split("=", 1)[1]
    request = make_request(provider, sealed)
    assert provider.get_session_id_from_request(request) == sealed
    current = await provider.get_current_user(request)
    assert current is not None and current.id == user["id"] and current.email == "ann@example.com"
    session = await provider.validate_session(sealed)
    assert session is not None
    assert session.user_id == user["id"]
    assert session.metadata["organizationId"] == "org_01EMULATED"
    assert session.metadata["workosSessionId"] in emulator.sessions
    assert session.handle == session.metadata["workosSessionId"]
    # the authorization code is single use
    with pytest.raises(SSOError) as info:
        await provider.handle_callback(code, "s1")
    assert info.value.code == "sso_failed"


async def test_cookie_opens_with_the_sdk_load_sealed_session(provider, emulator, login) -> None:
    user = emulator.add_user("sdk@example.com", "Sdk")
    sealed = await login(provider, user["id"])
    session = provider.client.user_management.load_sealed_session(
        session_data=sealed, cookie_password=provider.options.cookie_key
    )
    result = await asyncio.to_thread(session.authenticate)  # the SDK fetches JWKS with blocking I/O
    assert result.authenticated is True
    assert result.user["id"] == user["id"]


def test_name_mapping_fallbacks() -> None:
    from mastra.auth.workos import map_user

    assert map_user({"id": "u", "first_name": "Ann", "last_name": None, "email": "a@b.c"}).name == "Ann"
    assert map_user({"id": "u", "first_name": None, "last_name": None, "email": "a@b.c"}).name == "a@b.c"


async def test_tampered_foreign_and_garbage_cookies_are_refused(
    provider, emulator, login, make_request
) -> None:
    user = emulator.add_user("t@example.com")
    sealed = await login(provider, user["id"])
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    other_key = Fernet.generate_key().decode()
    foreign = Fernet(other_key).encrypt(b'{"access_token":"x","user":{"id":"u"}}').decode()
    for value in (flipped, foreign, "garbage", "", "%zz"):
        assert await provider.validate_session(value) is None
        assert await provider.get_current_user(make_request(provider, value)) is None
        assert await provider.refresh_session(value) is None


async def test_expired_access_token_refreshes_and_refresh_tokens_are_single_use(
    provider, emulator, login, make_request
) -> None:
    user = emulator.add_user("r@example.com")
    emulator.access_token_ttl = -10  # tokens minted already expired
    sealed = await login(provider, user["id"])
    assert await provider.validate_session(sealed) is None
    assert await provider.get_current_user(make_request(provider, sealed)) is None

    emulator.access_token_ttl = 300
    refreshed = await provider.refresh_session(sealed)
    assert refreshed is not None and refreshed.id != sealed
    assert (await provider.get_current_user(make_request(provider, refreshed.id))).id == user["id"]
    headers = provider.get_session_headers(refreshed)
    assert headers == [("set-cookie", f"wos_session={refreshed.id}; Path=/; HttpOnly; SameSite=Lax")]
    # the old cookie's refresh token was consumed: a replayed old cookie cannot refresh
    assert await provider.refresh_session(sealed) is None


async def test_destroy_revokes_at_workos_and_refuses_the_cookie_at_once(
    provider, emulator, login, make_request
) -> None:
    user = emulator.add_user("out@example.com")
    sealed = await login(provider, user["id"])
    sid = (await provider.validate_session(sealed)).handle
    request = make_request(provider, sealed)
    await provider.destroy_session(sealed)
    assert emulator.sessions[sid]["status"] == "revoked"
    assert await provider.validate_session(sealed) is None  # access token not expired, still refused
    assert await provider.get_current_user(request) is None
    assert await provider.refresh_session(sealed) is None
    logout = await provider.get_logout_url("http://127.0.0.1:4111/", request)
    assert _query(logout) == {"session_id": [sid], "return_to": ["http://127.0.0.1:4111/"]}
    assert await provider.get_logout_url("http://x/", make_request(provider, None)) is None
    await provider.destroy_session(sealed)  # idempotent
    assert provider.get_clear_session_headers() == [
        ("set-cookie", "wos_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    ]


async def test_session_revoked_at_workos_cannot_refresh(provider, emulator, login) -> None:
    user = emulator.add_user("rv@example.com")
    emulator.access_token_ttl = -10
    sealed = await login(provider, user["id"])
    for session in emulator.sessions.values():
        session["status"] = "revoked"
    emulator.access_token_ttl = 300
    assert await provider.refresh_session(sealed) is None


async def test_absolute_timeout_is_enforced(workos_options, emulator, login) -> None:
    p = WorkOSAuthProvider.from_options({**workos_options, "absolute_timeout": 60})
    user = emulator.add_user("abs@example.com")
    sealed = await login(p, user["id"])
    assert await p.validate_session(sealed) is not None
    for session in emulator.sessions.values():
        session["auth_time"] -= 120
    emulator.access_token_ttl = -10
    old = await login(p, user["id"])
    for session in emulator.sessions.values():
        session["auth_time"] -= 120
    assert await p.refresh_session(old) is None  # never refreshed past the absolute lifetime
    await p.aclose()


async def test_create_session_is_not_supported(provider) -> None:
    with pytest.raises(NotImplementedError):
        await provider.create_session("user_1")


async def test_bearer_tokens_are_verified_against_jwks(provider, emulator, make_request) -> None:
    user = emulator.add_user("bearer@example.com")
    sid = emulator.start_session(user["id"], "org_01EMULATED")
    token = emulator.mint_access_token(sid)
    found = await provider.authenticate_token(token, make_request(provider, None, bearer=token))
    assert (
        found is not None and found.id == user["id"] and found.metadata["organizationId"] == "org_01EMULATED"
    )
    # expired beyond the 60 s leeway of the core JWT layer
    assert await provider.authenticate_token(emulator.mint_access_token(sid, ttl=-120), None) is None
    claims = unverified_claims(token)
    forged = jwt.encode(
        {"alg": "HS256", "kid": emulator.current_key.kid},
        {**claims, "sub": "user_other"},
        OctKey.import_key("k" * 32),
    )
    assert await provider.authenticate_token(forged, None) is None
    assert await provider.authenticate_token("not-a-jwt", None) is None


@pytest.mark.parametrize(
    "marks",
    [{"nonce": "n-0123456789"}, {"at_hash": "x4Qy3WZ0a7Jb"}, {"nonce": "n", "at_hash": "h"}],
)
async def test_id_token_is_not_a_bearer_token(provider, emulator, make_request, marks) -> None:
    """S24 (issue #10, finding 5): a JWT shaped like an ID token (``nonce``/``at_hash``)
    signed by WorkOS's own key is not an access token, for the same live session."""
    user = emulator.add_user("idtoken@example.com")
    sid = emulator.start_session(user["id"], "org_01EMULATED")
    id_token = emulator.mint_id_token(sid, **marks)
    assert await provider.authenticate_token(id_token, make_request(provider, None, bearer=id_token)) is None
    # Control: the same key, issuer, subject and session without the ID-token marks pass.
    plain = emulator.mint_id_token(sid)
    assert await provider.authenticate_token(plain, make_request(provider, None, bearer=plain)) is not None


async def test_jwks_key_rotation_refetches_once_and_unknown_kids_are_bounded(provider, emulator) -> None:
    user = emulator.add_user("rot@example.com")
    sid = emulator.start_session(user["id"])
    assert await provider.authenticate_token(emulator.mint_access_token(sid), None) is not None
    assert provider.jwks.fetches == 1
    emulator.rotate_key()
    assert await provider.authenticate_token(emulator.mint_access_token(sid), None) is not None
    assert provider.jwks.fetches == 2  # one refetch for the new kid

    provider.jwks.refetch_interval = 60
    from workos_emulator import _keys

    stranger = _keys.SigningKey.generate()
    for _ in range(5):
        assert await provider.authenticate_token(emulator.mint_access_token(sid, key=stranger), None) is None
    assert provider.jwks.fetches == 2  # unknown kids do not trigger a download each


async def test_jwks_down_bearer_is_provider_unavailable_not_unauthenticated(workos_options, emulator) -> None:
    """The core failure rule: a token that cannot be checked because the JWKS is down
    raises ``ProviderUnavailable`` (the host answers 503); it is not a bad token."""
    user = emulator.add_user("keys-down@example.com")
    token = emulator.mint_access_token(emulator.start_session(user["id"]))
    cold = WorkOSAuthProvider.from_options(workos_options)
    emulator.down = True
    with pytest.raises(ProviderUnavailable) as info:
        await cold.authenticate_token(token, None)
    assert info.value.status == 503
    assert await cold.authenticate_token("not-a-jwt", None) is None  # still a bad token
    await cold.aclose()


async def test_jwks_unreachable_at_callback_is_provider_unavailable(workos_options, emulator) -> None:
    from mastra.core.testing.servers import free_port

    p = WorkOSAuthProvider.from_options(workos_options)
    p.jwks = JWKSCache(f"http://127.0.0.1:{free_port()}/sso/jwks")  # WorkOS answers, its keys do not
    user = emulator.add_user("cb-keys@example.com")
    emulator.login_as = user["id"]
    url = await p.get_login_url(CALLBACK, "s")
    async with httpx.AsyncClient() as browser:
        code = _query((await browser.get(url)).headers["location"])["code"][0]
    with pytest.raises(SSOError) as info:
        await p.handle_callback(code, "s")
    assert info.value.code == "provider_unavailable" and info.value.status == 503
    await p.aclose()


async def test_workos_down_callback_fails_clearly_and_sessions_keep_working(
    provider, emulator, login, make_request, caplog
) -> None:
    user = emulator.add_user("down@example.com")
    sealed = await login(provider, user["id"])
    emulator.login_as = user["id"]
    url = await provider.get_login_url(CALLBACK, "s")
    async with httpx.AsyncClient() as browser:
        code = _query((await browser.get(url)).headers["location"])["code"][0]
    emulator.down = True
    with pytest.raises(SSOError) as info:
        await provider.handle_callback(code, "s")
    assert info.value.code == "provider_unavailable" and info.value.status == 503
    # valid sealed sessions keep working while WorkOS is down (no network needed)
    assert (await provider.get_current_user(make_request(provider, sealed))).id == user["id"]
    with caplog.at_level(logging.INFO, logger="mastra.auth.workos"):
        assert await provider.refresh_session(sealed) is None
    await provider.destroy_session(sealed)  # errors swallowed
    assert await provider.validate_session(sealed) is None


async def test_workos_unreachable_callback_is_provider_unavailable(workos_options, settings) -> None:
    from mastra.core.testing.servers import free_port

    p = WorkOSAuthProvider.from_options({**workos_options, "base_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(SSOError) as info:
        await p.handle_callback("code", "s")
    assert info.value.code == "provider_unavailable"
    await p.aclose()


async def test_production_cookie_is_host_prefixed_and_secure(workos_options, emulator, login) -> None:
    prod = Settings(env="production", public_url="https://app.example", _env_file=None)
    p = WorkOSAuthProvider.from_options(ProviderOptions(workos_options, prod))
    p.jwks.refetch_interval = 0
    user = emulator.add_user("prod@example.com")
    sealed = await login(p, user["id"])
    session = await p.validate_session(sealed)
    assert p.get_session_headers(session) == [
        ("set-cookie", f"__Host-wos_session={sealed}; Path=/; HttpOnly; SameSite=Lax; Secure")
    ]
    assert p.get_clear_session_headers() == [
        ("set-cookie", "__Host-wos_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure")
    ]
    await p.aclose()


async def test_fetch_memberships_attaches_organization(workos_options, emulator, login, make_request) -> None:
    p = WorkOSAuthProvider.from_options(
        {**workos_options, "fetch_memberships": True, "organization_id": None}
    )
    user = emulator.add_user("m@example.com")
    emulator.add_membership(user["id"], "org_A", ["member"])
    sealed = await login(p, user["id"])
    current = await p.get_current_user(make_request(p, sealed))
    assert current.metadata["memberships"] == [{"organizationId": "org_A", "roles": ["member"]}]
    assert current.metadata["organizationId"] == "org_A"
    await p.aclose()
