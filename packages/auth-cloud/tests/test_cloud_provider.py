"""Mastra Cloud provider against the loopback Cloud emulator (provider methods as the
host calls them; the HTTP flows through the server live in test_cloud_http.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from cloud_emulator import CloudEmulator, CloudUser
from mastra.auth.cloud import MastraCloudAuth
from mastra.core.ee.crypto import Sealer, new_secret, parse_cookie_header
from mastra.core.ee.errors import SSOError
from mastra.core.ee.options import ProviderOptions, as_provider_options
from mastra.core.ee.settings import Settings
from mastra.core.testing.servers import BackgroundServer, free_port
from starlette.requests import Request

SECRET = "s" * 40
CALLBACK = "http://127.0.0.1:4111/api/auth/sso/callback"


@pytest.fixture
def emulator() -> Iterator[tuple[CloudEmulator, str]]:
    emu = CloudEmulator()
    with BackgroundServer(emu.app()) as server:
        yield emu, server.url


_opened: list[MastraCloudAuth] = []


def make_provider(base_url: str, *, settings: Settings | None = None, **overrides: object) -> MastraCloudAuth:
    options: dict[str, object] = {"project_id": "proj_test", "cloud_base_url": base_url, "secret": SECRET}
    options.update(overrides)
    settings = settings or Settings(public_url="http://127.0.0.1:4111")
    provider = MastraCloudAuth.from_options(as_provider_options(options, settings))
    _opened.append(provider)
    return provider


@pytest.fixture(autouse=True)
async def _close_providers() -> AsyncIterator[None]:
    """Close every provider a test made, as the host does at shutdown: their pooled
    connections belong to this test's event loop."""
    yield
    while _opened:
        await _opened.pop().aclose()


@pytest.fixture
def provider(emulator: tuple[CloudEmulator, str]) -> MastraCloudAuth:
    return make_provider(emulator[1])


def request_with(cookies: dict[str, str] | None = None, bearer: str | None = None) -> Request:
    headers = []
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    if bearer:
        headers.append((b"authorization", f"Bearer {bearer}".encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def cookie_pairs(set_cookies: list[str]) -> str:
    return "; ".join(c.split(";", 1)[0] for c in set_cookies)


async def start_login(provider: MastraCloudAuth, state: str) -> tuple[str, str, str]:
    """Host side of /auth/sso/login plus the browser visiting Cloud: returns
    (code, provider_state, cookie header of the browser)."""
    url = await provider.get_login_url(CALLBACK, state)
    cookies = provider.get_login_cookies(CALLBACK, state)
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302
    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    return query["code"][0], query["state"][0], cookie_pairs(cookies)


async def test_login_url_has_pkce_s256_and_wrapped_state(provider: MastraCloudAuth) -> None:
    state = new_secret()
    url = urlparse(await provider.get_login_url(CALLBACK, state))
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/auth/oss"
    assert q["project_id"] == "proj_test"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43
    assert q["redirect_uri"] == CALLBACK
    assert provider.host_state_from_callback(q["state"]) == state
    # The cookie carries the verifier whose S256 is the challenge.
    [cookie] = provider.get_login_cookies(CALLBACK, state)
    assert cookie.startswith("mastra_pkce_verifier=v1.")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=300" in cookie and "Secure" not in cookie
    sealed = cookie.split(";", 1)[0].split("=", 1)[1]
    payload = Sealer(SECRET, info="mastra-cloud-pkce").unseal_json(sealed, aad="mastra_pkce_verifier")
    from mastra.auth.cloud._pkce import s256_challenge

    assert s256_challenge(payload["verifier"]) == q["code_challenge"]
    assert payload["state"] == state
    assert payload["expiresAt"] - time.time() == pytest.approx(300, abs=5)


async def test_concurrent_logins_get_distinct_verifiers(provider: MastraCloudAuth) -> None:
    a, b = new_secret(), new_secret()
    url_a = await provider.get_login_url(CALLBACK, a)
    url_b = await provider.get_login_url(CALLBACK, b)
    assert (
        parse_qs(urlparse(url_a).query)["code_challenge"] != parse_qs(urlparse(url_b).query)["code_challenge"]
    )


async def test_full_login_sets_session_and_verifies(
    provider: MastraCloudAuth, emulator: tuple[CloudEmulator, str]
) -> None:
    emu, _ = emulator
    state = new_secret()
    code, pstate, cookie_header = await start_login(provider, state)
    result = await provider.handle_callback(code, pstate, cookie_header=cookie_header)
    assert result.user.id == "user_1"
    assert result.user.email == "ann@example.com"
    assert result.user.metadata == {"role": "admin"}
    assert result.return_to == "/"
    clear, session = result.cookies
    assert clear.startswith("mastra_pkce_verifier=;") and "Max-Age=0" in clear
    assert session.startswith("mastra_cloud_session=cloud_")
    assert "Max-Age=86400" in session and "HttpOnly" in session and "SameSite=Lax" in session
    token = session.split(";", 1)[0].split("=", 1)[1]
    # Server calls carry the project header.
    assert all(
        h.get("x-project-id") == "proj_test" for p, h in emu.calls if p in {"/auth/callback", "/auth/verify"}
    )

    user = await provider.get_current_user(request_with({"mastra_cloud_session": token}))
    assert user is not None and user.id == "user_1"
    assert await provider.get_roles(user) == ["admin"]
    perms = await provider.get_permissions(user)
    assert "agents:*" in perms and "*" not in perms

    session_obj = await provider.validate_session(token)
    assert session_obj is not None and session_obj.user_id == "user_1"
    assert session_obj.expires_at > session_obj.created_at
    [(name, header)] = provider.get_session_headers(session_obj)
    assert name == "set-cookie" and header.startswith(f"mastra_cloud_session={token};")

    logout = await provider.get_logout_url(
        "http://127.0.0.1:4111/", request_with({"mastra_cloud_session": token})
    )
    assert logout is not None
    lq = parse_qs(urlparse(logout).query)
    assert lq["post_logout_redirect_uri"] == ["http://127.0.0.1:4111/"] and lq["id_token_hint"] == [token]
    assert await provider.get_logout_url("http://x/", request_with()) is None

    await provider.destroy_session(token)
    destroy_headers = [h for p, h in emu.calls if p == "/auth/session/destroy"]
    assert destroy_headers and "x-project-id" not in destroy_headers[0]
    assert await provider.validate_session(token) is None
    assert await provider.get_current_user(request_with({"mastra_cloud_session": token})) is None


async def test_state_mismatch_is_refused(provider: MastraCloudAuth) -> None:
    code, pstate, _ = await start_login(provider, new_secret())
    # Another browser's PKCE cookie (its own login) does not match this state.
    other_cookie = cookie_pairs(provider.get_login_cookies(CALLBACK, new_secret()))
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=other_cookie)
    assert err.value.code == "state_mismatch"


async def test_missing_unreadable_and_expired_pkce_cookie(provider: MastraCloudAuth) -> None:
    code, pstate, _cookie_header = await start_login(provider, new_secret())
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=None)
    assert err.value.code == "missing_verifier"
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header="mastra_pkce_verifier=v1.abc.tampered")
    assert err.value.code == "pkce_invalid"
    # A cookie sealed under another secret is unreadable too.
    foreign = Sealer("x" * 40, info="mastra-cloud-pkce").seal_json(
        {"verifier": "v"}, aad="mastra_pkce_verifier"
    )
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=f"mastra_pkce_verifier={foreign}")
    assert err.value.code == "pkce_invalid"
    expired = Sealer(SECRET, info="mastra-cloud-pkce").seal_json(
        {
            "verifier": "v",
            "state": provider.host_state_from_callback(pstate),
            "expiresAt": int(time.time()) - 1,
        },
        aad="mastra_pkce_verifier",
    )
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=f"mastra_pkce_verifier={expired}")
    assert err.value.code == "pkce_expired"


async def test_malformed_state_is_invalid_state(provider: MastraCloudAuth) -> None:
    code, _, cookie_header = await start_login(provider, new_secret())
    for bad in ("", "%%%", "bm90IGpzb24", "eyJyZXR1cm5UbyI6Ii8ifQ"):
        with pytest.raises(SSOError) as err:
            await provider.handle_callback(code, bad, cookie_header=cookie_header)
        assert err.value.code in {"invalid_state", "missing_code"}


async def test_code_and_state_are_single_use(
    provider: MastraCloudAuth, emulator: tuple[CloudEmulator, str]
) -> None:
    code, pstate, cookie_header = await start_login(provider, new_secret())
    await provider.handle_callback(code, pstate, cookie_header=cookie_header)
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=cookie_header)
    assert err.value.code == "invalid_state"
    # A fresh provider instance (no in-process memory) still cannot reuse the code: Cloud refuses.
    again = make_provider(emulator[1])
    with pytest.raises(SSOError) as err:
        await again.handle_callback(code, pstate, cookie_header=cookie_header)
    assert err.value.code == "token_exchange_failed"


async def test_wrong_verifier_fails_exchange(provider: MastraCloudAuth) -> None:
    state = new_secret()
    code, pstate, _ = await start_login(provider, state)
    forged = Sealer(SECRET, info="mastra-cloud-pkce").seal_json(
        {
            "verifier": new_secret(),
            "state": state,
            "expiresAt": int(time.time()) + 100,
            "redirectUri": CALLBACK,
        },
        aad="mastra_pkce_verifier",
    )
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=f"mastra_pkce_verifier={forged}")
    assert err.value.code == "token_exchange_failed"


async def test_cloud_down_gives_clear_errors(emulator: tuple[CloudEmulator, str]) -> None:
    emu, url = emulator
    provider = make_provider(url)
    code, pstate, cookie_header = await start_login(provider, new_secret())
    emu.down = True
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=cookie_header)
    assert (err.value.code, err.value.status) == ("cloud_api_error", 502)
    assert emu.count("/auth/callback") == 3  # first try + 2 retries

    closed = make_provider(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    state = new_secret()
    await closed.get_login_url(CALLBACK, state)
    cookies = cookie_pairs(closed.get_login_cookies(CALLBACK, state))
    from mastra.auth.cloud._pkce import encode_state

    with pytest.raises(SSOError) as err:
        await closed.handle_callback("somecode", encode_state(state, "/"), cookie_header=cookies)
    assert (err.value.code, err.value.status) == ("network_error", 503)
    # Per-request verification with Cloud unreachable: unauthenticated, never an exception.
    assert await closed.get_current_user(request_with(bearer="cloud_x")) is None
    assert await closed.validate_session("cloud_x") is None


async def test_transient_5xx_is_retried(
    provider: MastraCloudAuth, emulator: tuple[CloudEmulator, str]
) -> None:
    emu, _ = emulator
    token = emu.issue(emu.login_as)
    emu.fail_next = [502, 500]
    user = await provider.authenticate_token(token, None)
    assert user is not None and user.id == "user_1"
    assert emu.count("/auth/verify") == 3


async def test_verify_cache_then_revocation_honoured(emulator: tuple[CloudEmulator, str]) -> None:
    emu, url = emulator
    provider = make_provider(url, verify_cache_ttl=0.5)
    token = emu.issue(CloudUser("user_2", "bo@example.com", role="viewer"))
    req = request_with(bearer=token)
    assert (await provider.get_current_user(req)).id == "user_2"  # type: ignore[union-attr]
    assert (await provider.get_current_user(req)).id == "user_2"  # type: ignore[union-attr]
    assert emu.count("/auth/verify") == 1  # second answer came from the cache
    emu.revoke(token)
    assert await provider.get_current_user(req) is not None  # still cached (bounded staleness)
    time.sleep(0.6)
    assert await provider.get_current_user(req) is None
    assert emu.count("/auth/verify") == 2
    # Negative results are not cached.
    assert await provider.get_current_user(req) is None
    assert emu.count("/auth/verify") == 3


@pytest.mark.parametrize("token", ["💥", "a\x00b", "two words", "x" * 9000, "tok\r\nX-Evil: 1"])
async def test_tokens_cloud_cannot_have_issued_are_refused_without_a_call(
    emulator: tuple[CloudEmulator, str], token: str
) -> None:
    """Found by the user/session conformance suites: a non-ASCII token made httpx raise
    UnicodeEncodeError and a NUL was retried as if Cloud were down. Now nothing is sent."""
    emu, url = emulator
    provider = make_provider(url)
    try:
        assert await provider.authenticate_token(token) is None
        assert await provider.validate_session(token) is None
        await provider.destroy_session(token)
        assert emu.calls == []
    finally:
        await provider.aclose()


async def test_project_api_token(provider: MastraCloudAuth, emulator: tuple[CloudEmulator, str]) -> None:
    emu, _ = emulator
    emu.api_tokens.add("proj_api_secret")
    user = await provider.authenticate_token("proj_api_secret", None)
    assert user is not None
    assert user.id == "api-token" and user.metadata == {"role": "api", "tokenType": "apikey"}
    assert await provider.authenticate_token("nope", None) is None
    assert await provider.get_user("user_1") is None


def test_flags_button_and_production_cookies(emulator: tuple[CloudEmulator, str]) -> None:
    provider = make_provider(
        emulator[1], settings=Settings(env="production", public_url="https://app.example")
    )
    assert provider.owns_sessions is True and provider.is_mastra_cloud_auth is True
    assert provider.get_login_button_config().to_json() == {
        "provider": "mastra",
        "text": "Sign in with Mastra Cloud",
    }
    cleared = [h for _, h in provider.get_clear_session_headers()]
    assert cleared[0].startswith("__Host-mastra_cloud_session=;") and cleared[0].endswith("; Secure")
    assert cleared[1].startswith("__Host-mastra_pkce_verifier=;")
    assert provider.callback_url == "https://app.example/api/auth/sso/callback"


def test_missing_options_are_configuration_errors() -> None:
    from mastra.core.ee.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        MastraCloudAuth.from_options(ProviderOptions({"project_id": "p"}, Settings()))
    with pytest.raises(ConfigurationError):
        MastraCloudAuth.from_options(ProviderOptions({"cloud_base_url": "http://127.0.0.1:1"}, Settings()))


def test_pkce_cookie_header_parsing_picks_named_cookie() -> None:
    assert parse_cookie_header("a=1; mastra_pkce_verifier=v1.x.y")["mastra_pkce_verifier"] == "v1.x.y"


async def test_calls_share_one_pooled_client_until_aclose(emulator: tuple[CloudEmulator, str]) -> None:
    emu, url = emulator
    provider = make_provider(url, verify_cache_ttl=0)  # every call reaches Cloud
    tokens = [emu.issue(emu.login_as) for _ in range(5)]
    for token in tokens:
        assert await provider.authenticate_token(token, None) is not None
        assert await provider.validate_session(token) is not None
    assert emu.count("/auth/verify") == 5 and emu.count("/auth/session/validate") == 5
    assert emu.connections == 1  # ten calls, one keep-alive connection
    assert provider.http.pool.created == 1
    client = provider.http.pool.client()
    await provider.aclose()
    assert client.is_closed
    # A call after aclose opens a fresh client rather than failing.
    assert await provider.authenticate_token(tokens[0], None) is not None
    assert provider.http.pool.created == 2 and emu.connections == 2
    await provider.aclose()


async def test_rate_limited_answers_are_retried(
    provider: MastraCloudAuth, emulator: tuple[CloudEmulator, str]
) -> None:
    emu, _ = emulator
    token = emu.issue(emu.login_as)
    emu.fail_next = [429]
    assert await provider.authenticate_token(token, None) is not None
    assert emu.count("/auth/verify") == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_answers_not_retried(
    provider: MastraCloudAuth, emulator: tuple[CloudEmulator, str], status: int
) -> None:
    emu, _ = emulator
    code, pstate, cookie_header = await start_login(provider, new_secret())
    emu.fail_next = [status]
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(code, pstate, cookie_header=cookie_header)
    assert err.value.code == "token_exchange_failed"
    assert emu.count("/auth/callback") == 1


@pytest.mark.parametrize(
    ("env", "public_url"),
    [
        ("production", "http://10.0.0.5:4111"),
        ("production", "https://app.example"),
        ("development", "https://app.example"),
        ("development", "http://127.0.0.1:4111"),
    ],
)
async def test_cookies_follow_the_s8_rule(
    emulator: tuple[CloudEmulator, str], env: str, public_url: str
) -> None:
    from mastra.core.ee.crypto import clear_cookie, cookie_spec

    provider = make_provider(emulator[1], settings=Settings(env=env, public_url=public_url))
    production = env == "production"
    session = cookie_spec("mastra_cloud_session", production=production, public_url=public_url)
    pkce = cookie_spec("mastra_pkce_verifier", production=production, public_url=public_url)
    [login_cookie] = provider.get_login_cookies(CALLBACK, new_secret())
    assert login_cookie.startswith(f"{pkce.name}=v1.") and login_cookie.endswith("; Secure") is pkce.secure
    assert provider.get_clear_session_headers() == [
        ("set-cookie", clear_cookie(session)),
        ("set-cookie", clear_cookie(pkce)),
    ]
    assert session.secure is (production or public_url.startswith("https://"))
