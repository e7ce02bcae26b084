"""Generic OIDC provider against the real npm ``oidc-provider`` (tests/peer)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from mastra.auth.cloud import OIDCAuth
from mastra.core.ee.crypto import new_secret
from mastra.core.ee.errors import ProviderUnavailable, SSOError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings
from oidc_peer import OIDCPeer, browser_login, client_credentials_token
from starlette.requests import Request

pytestmark = pytest.mark.node

CALLBACK = "http://127.0.0.1:4111/api/auth/sso/callback"
STUDIO = "http://127.0.0.1:4111/"
SECRET = "o" * 40
CLIENT_SECRET = "conf-client-secret-0123456789-abcdefghijkl"
CLIENTS = [
    {
        "client_id": "app",
        "token_endpoint_auth_method": "none",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [STUDIO],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    },
    {
        "client_id": "conf",
        "client_secret": CLIENT_SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    },
    {
        "client_id": "svc",
        "client_secret": CLIENT_SECRET,
        "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": [],
        "grant_types": ["client_credentials"],
        "response_types": [],
    },
]


@pytest.fixture(scope="module")
def peer() -> Iterator[OIDCPeer]:
    with OIDCPeer(CLIENTS) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_mode(peer: OIDCPeer) -> Iterator[None]:
    peer.set_mode({})
    yield
    peer.set_mode({})


def make(peer: OIDCPeer, *, settings: Settings | None = None, **overrides: Any) -> OIDCAuth:
    options: dict[str, Any] = {
        "issuer": peer.issuer,
        "client_id": "app",
        "secret": SECRET,
        "registry": "memory",
        "roles_claim": "roles",
        "scopes": "openid profile email offline_access",
    }
    options.update(overrides)
    settings = settings or Settings(public_url="http://127.0.0.1:4111")
    provider = OIDCAuth.from_options(ProviderOptions(options, settings))
    _opened.append(provider)
    return provider


_opened: list[OIDCAuth] = []


@pytest.fixture(autouse=True)
async def _close_providers() -> AsyncIterator[None]:
    """Close every provider a test made, as the host does at shutdown: their pooled
    connections belong to this test's event loop."""
    yield
    while _opened:
        await _opened.pop().aclose()


@pytest.fixture
async def provider(peer: OIDCPeer) -> AsyncIterator[OIDCAuth]:
    yield make(peer)


def pairs(set_cookies: list[str]) -> str:
    return "; ".join(c.split(";", 1)[0] for c in set_cookies)


def cookie_request(cookie_header: str, query: str = "") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": query.encode(),
            "headers": [(b"cookie", cookie_header.encode())],
            "client": ("127.0.0.9", 5000),
        }
    )


async def login(provider: OIDCAuth, account: str = "alice") -> tuple[dict[str, str], str, str]:
    """Host-side login start + browser at the IdP → (callback query, state, browser cookies)."""
    state = new_secret()
    url = await provider.get_login_url(CALLBACK, state)
    cookies = pairs(provider.get_login_cookies(CALLBACK, state))
    callback = await browser_login(url, CALLBACK, account=account)
    query = {k: v[0] for k, v in parse_qs(urlparse(callback).query).items()}
    assert query["state"] == state
    return query, state, cookies


async def test_full_login_session_and_logout(provider: OIDCAuth, peer: OIDCPeer) -> None:
    state = new_secret()
    url = urlparse(await provider.get_login_url(CALLBACK, state))
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["nonce"]) >= 43 and q["state"] == state and q["client_id"] == "app"
    [login_cookie] = provider.get_login_cookies(CALLBACK, state)
    assert login_cookie.startswith("mastra_oidc_login=v1.")
    assert "Max-Age=600" in login_cookie and "HttpOnly" in login_cookie and "SameSite=Lax" in login_cookie

    query, state, cookies = await login(provider)
    assert query["iss"] == peer.issuer  # RFC 9207 parameter from the real IdP
    result = await provider.handle_callback(
        query["code"], state, cookie_header=cookies, request=cookie_request(cookies, urlparse_query(query))
    )
    user = result.user
    assert user.id == "alice" and user.email == "alice@example.com" and user.name == "Alice Liddell"
    assert user.avatar_url == "https://img.example/alice.png"
    assert user.metadata == {
        "issuer": peer.issuer,
        "emailVerified": True,
        "preferredUsername": "alice",
        "roles": ["admin"],
    }
    assert result.tokens.id_token and result.tokens.refresh_token
    clear, session_cookie = result.cookies
    assert clear.startswith("mastra_oidc_login=;") and "Max-Age=0" in clear
    assert session_cookie.startswith("mastra_oidc_session=v1.")

    browser = pairs([session_cookie])
    current = await provider.get_current_user(cookie_request(browser))
    assert current is not None and current.id == "alice" and current.metadata["roles"] == ["admin"]
    session = await provider.validate_session(
        provider.get_session_id_from_request(cookie_request(browser)) or ""
    )
    assert session is not None and session.user is not None and session.handle
    assert "idToken" not in session.metadata and "refreshToken" not in session.metadata
    listed = await provider.list_sessions("alice")
    assert [s.handle for s in listed] == [session.handle]

    logout = await provider.get_logout_url(STUDIO, cookie_request(browser))
    assert logout is not None and logout.startswith(f"{peer.issuer}/session/end?")
    lq = {k: v[0] for k, v in parse_qs(urlparse(logout).query).items()}
    assert lq["id_token_hint"] == result.tokens.id_token
    assert lq["post_logout_redirect_uri"] == STUDIO and lq["client_id"] == "app"
    await provider.destroy_session(session.id)
    assert await provider.get_current_user(cookie_request(browser)) is None
    assert await provider.get_logout_url(STUDIO, cookie_request("")) is None


def urlparse_query(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


async def test_name_fallback_and_confidential_client(peer: OIDCPeer) -> None:
    provider = make(
        peer, client_id="conf", client_secret=CLIENT_SECRET, token_endpoint_auth="client_secret_basic"
    )
    query, state, cookies = await login(provider, account="bob")
    result = await provider.handle_callback(query["code"], state, cookie_header=cookies)
    assert result.user.name == "Bob Builder" and result.user.metadata["emailVerified"] is False


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ({"claims": {"aud": "someone-else"}}, "wrong audience"),
        ({"claims": {"aud": ["app", "other"]}}, "several audiences without azp"),
        ({"claims": {"aud": ["app", "other"], "azp": "other"}}, "azp not the client"),
        ({"claims": {"iss": "http://127.0.0.1:1"}}, "wrong issuer"),
        ({"claims": {"exp": 1000}}, "expired"),
        ({"claims": {"iat": 4102444800}}, "issued in the future"),
        ({"claims": {"nonce": "attacker-nonce"}}, "nonce mismatch"),
        ({"alg": "none"}, "unsigned"),
        ({"tamper": True}, "payload changed after signing"),
        ({"hs256": CLIENT_SECRET}, "HMAC while the IdP advertises only RS256"),
        ({"kid": "ghost"}, "unknown key id"),
    ],
)
async def test_bad_id_tokens_are_refused(peer: OIDCPeer, mode: dict[str, Any], why: str) -> None:
    provider = make(peer)
    query, state, cookies = await login(provider)
    peer.set_mode(mode)
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query["code"], state, cookie_header=cookies)
    assert err.value.code == "invalid_id_token", why


async def test_multi_audience_with_matching_azp_is_accepted(peer: OIDCPeer) -> None:
    provider = make(peer)
    query, state, cookies = await login(provider)
    peer.set_mode({"claims": {"aud": ["app", "other"], "azp": "app"}})
    result = await provider.handle_callback(query["code"], state, cookie_header=cookies)
    assert result.user.id == "alice"


async def test_unknown_kid_refetch_is_rate_limited(peer: OIDCPeer) -> None:
    provider = make(peer)
    for _ in range(2):
        query, state, cookies = await login(provider)
        peer.set_mode({"kid": "ghost"})
        with pytest.raises(SSOError):
            await provider.handle_callback(query["code"], state, cookie_header=cookies)
        peer.set_mode({})
    # one initial fetch + one forced refetch; the second unknown kid did not refetch
    assert provider.metadata.jwks is not None and provider.metadata.jwks.fetches == 2


async def test_key_rotation_next_login_still_works(peer: OIDCPeer) -> None:
    with OIDCPeer(CLIENTS, kid="old-key") as own:
        provider = make(own)
        query, state, cookies = await login(provider)
        assert (
            await provider.handle_callback(query["code"], state, cookie_header=cookies)
        ).user.id == "alice"
        own.rotate_key("new-key")
        query, state, cookies = await login(provider)
        assert (
            await provider.handle_callback(query["code"], state, cookie_header=cookies)
        ).user.id == "alice"
        assert provider.metadata.jwks is not None and provider.metadata.jwks.fetches == 2


async def test_jwks_unreachable_at_callback_is_provider_unavailable(peer: OIDCPeer) -> None:
    """The core failure rule: keys that cannot be fetched say nothing about the ID token,
    so the login fails as ``provider_unavailable``, not as ``invalid_id_token``."""
    provider = make(peer)
    query, state, cookies = await login(provider)
    peer.set_mode({"jwksStatus": 503})
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query["code"], state, cookie_header=cookies)
    assert err.value.code == "provider_unavailable"


async def test_replayed_state_is_refused(provider: OIDCAuth) -> None:
    query, state, cookies = await login(provider)
    await provider.handle_callback(query["code"], state, cookie_header=cookies)
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query["code"], state, cookie_header=cookies)
    assert err.value.code == "invalid_state"


async def test_iss_response_parameter(provider: OIDCAuth, peer: OIDCPeer) -> None:
    query, state, cookies = await login(provider)
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query["code"], state, cookie_header=cookies, iss="http://evil.example")
    assert err.value.code == "issuer_mismatch"
    # The IdP advertises the parameter: a callback request without it is a mix-up attempt.
    query, state, cookies = await login(provider)
    no_iss = {k: v for k, v in query.items() if k != "iss"}
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(
            query["code"],
            state,
            cookie_header=cookies,
            request=cookie_request(cookies, urlparse_query(no_iss)),
        )
    assert err.value.code == "issuer_mismatch"


# -- state must be bound to the browser (CVE-2025-68481, CVE-2025-68158, CVE-2026-41425) ----


async def test_cve_2025_68481_callback_from_another_browser_is_refused(provider: OIDCAuth) -> None:
    """fastapi-users: the OAuth state was not tied to the browser, so an attacker could
    send a victim their own callback URL (login CSRF / account linking)."""
    attacker_query, attacker_state, _attacker_cookies = await login(provider, account="bob")
    # The victim's browser has its own login in progress (its own login cookie).
    victim_state = new_secret()
    await provider.get_login_url(CALLBACK, victim_state)
    victim_cookies = pairs(provider.get_login_cookies(CALLBACK, victim_state))
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(attacker_query["code"], attacker_state, cookie_header=victim_cookies)
    assert err.value.code == "state_mismatch"
    # …or none at all.
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(attacker_query["code"], attacker_state, cookie_header=None)
    assert err.value.code == "invalid_state"


async def test_cve_2025_68158_server_known_state_alone_is_not_enough(provider: OIDCAuth) -> None:
    """Authlib cache-backed state: a state the server knows (here: it was issued by
    get_login_url and sits in the provider's in-process pending map) was accepted from
    any browser. Here the only proof is the initiating browser's sealed cookie."""
    query, state, cookies = await login(provider)
    assert provider._pending.get_or_create(state, lambda: None) is not None  # the server knows it
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query["code"], state, cookie_header="unrelated=1")
    assert err.value.code == "invalid_state"
    # The legitimate browser still succeeds afterwards (the refusal did not burn the state).
    assert (await provider.handle_callback(query["code"], state, cookie_header=cookies)).user.id == "alice"


async def test_cve_2026_41425_state_and_nonce_are_bound_together(provider: OIDCAuth, peer: OIDCPeer) -> None:
    """Authlib ≤ 1.6.10: state fetched without checking the initiating client; also the
    nonce must come from the same browser-bound login. Swapping one login cookie for
    another (same browser, two tabs) never validates an ID token against the wrong nonce."""
    query_a, state_a, _cookies_a = await login(provider)
    query_b, state_b, cookies_b = await login(provider)
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query_a["code"], state_a, cookie_header=cookies_b)
    assert err.value.code == "state_mismatch"
    # A forged cookie value (not sealed by us) is unreadable.
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(
            query_a["code"], state_a, cookie_header="mastra_oidc_login=v1.aaaa.bbbb"
        )
    assert err.value.code == "invalid_state"
    assert (
        await provider.handle_callback(query_b["code"], state_b, cookie_header=cookies_b)
    ).user.id == "alice"


async def test_expired_login_cookie(provider: OIDCAuth) -> None:
    query, state, _ = await login(provider)
    expired = provider._login_sealer.seal_json(
        {"state": state, "nonce": "n", "verifier": "v", "exp": int(time.time()) - 1}, aad="mastra_oidc_login"
    )
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query["code"], state, cookie_header=f"mastra_oidc_login={expired}")
    assert err.value.code == "invalid_state"


async def test_discovery_issuer_must_match_exactly(peer: OIDCPeer) -> None:
    provider = make(peer, issuer=peer.issuer + "/")
    with pytest.raises(ProviderUnavailable):
        await provider.get_login_url(CALLBACK, new_secret())


API = "urn:mastra:api"


async def access_token(peer: OIDCPeer, resource: str = API) -> str:
    return await client_credentials_token(peer, "svc", CLIENT_SECRET, resource)


async def reissued_id_token(peer: OIDCPeer, mode: dict[str, Any]) -> str:
    """Sign in, then redeem the refresh token with the peer in ``mode``: an ID token signed
    by the IdP's real key whose claims and header the test shapes."""
    provider = make(peer)
    query, state, cookies = await login(provider)
    result = await provider.handle_callback(query["code"], state, cookie_header=cookies)
    peer.set_mode(mode)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{peer.issuer}/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "app",
                "refresh_token": result.tokens.refresh_token,
            },
        )
    peer.set_mode({})
    assert response.status_code == 200, response.text
    return str(response.json()["id_token"])


def bearer_request(token: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.9", 5000),
        }
    )


async def test_bearer_access_token_jwt(peer: OIDCPeer) -> None:
    provider = make(peer, api_audience=API)
    token = await access_token(peer)
    user = await provider.authenticate_token(token, bearer_request(token))
    assert user is not None and user.id == "svc"
    # The real IdP's token for another resource server is not ours.
    other = await access_token(peer, "urn:other:api")
    assert await provider.authenticate_token(other, bearer_request(other)) is None
    wrong_audience = make(peer, api_audience="urn:other")
    assert await wrong_audience.authenticate_token(token, None) is None
    assert await provider.authenticate_token(token[:-4] + "AAAA", None) is None
    assert await provider.authenticate_token("opaque-token", None) is None


async def test_jwks_unreachable_bearer_is_provider_unavailable(peer: OIDCPeer) -> None:
    """A bearer token that cannot be checked because the IdP's JWKS is down raises
    ``ProviderUnavailable`` (the host answers 503) instead of passing for unauthenticated;
    keys already fetched keep verifying without the IdP."""
    token = await access_token(peer)
    warm = make(peer, api_audience=API)
    assert await warm.authenticate_token(token, bearer_request(token)) is not None
    cold = make(peer, api_audience=API)
    peer.set_mode({"jwksStatus": 503})
    assert await warm.authenticate_token(token, bearer_request(token)) is not None
    with pytest.raises(ProviderUnavailable) as err:
        await cold.authenticate_token(token, bearer_request(token))
    assert err.value.status == 503
    assert await cold.authenticate_token("not.a-jwt.at-all", None) is None  # still a bad token


async def test_without_api_audience_no_bearer_is_accepted(peer: OIDCPeer) -> None:
    """S24: bearer validation is off until ``api_audience`` is configured, even for a
    perfectly valid access token of this issuer."""
    provider = make(peer)
    assert provider.api_audience is None
    token = await access_token(peer)
    assert await provider.authenticate_token(token, bearer_request(token)) is None
    assert (await make(peer, api_audience=API).authenticate_token(token, None)) is not None  # control


async def test_id_token_is_not_a_bearer_token(peer: OIDCPeer) -> None:
    """Issue #10 finding 5: the ID token (the logout URL's ``id_token_hint``) authenticated
    API calls. It is refused while its session lives and after logout."""
    provider = make(peer, api_audience=API)
    query, state, cookies = await login(provider)
    result = await provider.handle_callback(query["code"], state, cookie_header=cookies)
    browser = pairs([result.cookies[1]])
    logout = await provider.get_logout_url(STUDIO, cookie_request(browser))
    assert logout is not None
    id_token = parse_qs(urlparse(logout).query)["id_token_hint"][0]
    assert id_token == result.tokens.id_token
    assert await provider.get_current_user(cookie_request(browser)) is not None  # session is live
    assert await provider.authenticate_token(id_token, bearer_request(id_token)) is None
    assert await make(peer).authenticate_token(id_token, bearer_request(id_token)) is None
    session_id = provider.get_session_id_from_request(cookie_request(browser))
    await provider.destroy_session(session_id or "")
    assert await provider.get_current_user(cookie_request(browser)) is None
    assert await provider.authenticate_token(id_token, bearer_request(id_token)) is None
    assert await make(peer).authenticate_token(id_token, bearer_request(id_token)) is None


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ({"claims": {"aud": ["app", API], "azp": "app"}}, "also addressed to the API, carries nonce"),
        ({"claims": {"aud": API}}, "addressed to the API, carries nonce"),
        ({"claims": {"aud": API, "at_hash": "x4Qy3WZ0a7Jb"}, "drop": ["nonce"]}, "carries at_hash"),
        ({"claims": {"aud": API}, "drop": ["nonce"], "typ": "logout+jwt"}, "typed as another JWT"),
        ({"claims": {"aud": API}, "drop": ["nonce"], "typ": "id_token+jwt"}, "typed as an ID token"),
    ],
)
async def test_id_token_shaped_jwt_is_not_a_bearer_token(
    peer: OIDCPeer, mode: dict[str, Any], why: str
) -> None:
    """Even signed by the issuer and addressed to ``api_audience``, a JWT shaped like an ID
    token (``nonce``, ``at_hash``) or typed as something else is not an access token."""
    provider = make(peer, api_audience=API)
    token = await reissued_id_token(peer, mode)
    assert await provider.authenticate_token(token, bearer_request(token)) is None, why
    # Control: the same kind of token without the ID-token marks is accepted, so the
    # refusal above is due to them and not to the audience or signature.
    plain = await reissued_id_token(peer, {"claims": {"aud": API}, "drop": ["nonce"]})
    assert await provider.authenticate_token(plain, bearer_request(plain)) is not None, why


async def test_typed_access_tokens(peer: OIDCPeer) -> None:
    """RFC 9068 ``typ``: required when configured, or once this issuer was seen typing its
    access tokens; ``typed_access_tokens=False`` never requires it."""
    untyped = await reissued_id_token(peer, {"claims": {"aud": API}, "drop": ["nonce"]})
    generic = await reissued_id_token(peer, {"claims": {"aud": API}, "drop": ["nonce"], "typ": "JWT"})
    long_form = await reissued_id_token(
        peer, {"claims": {"aud": API}, "drop": ["nonce"], "typ": "Application/AT+JWT"}
    )
    typed = await access_token(peer)

    strict = make(peer, api_audience=API, typed_access_tokens=True)
    assert await strict.authenticate_token(untyped, None) is None
    assert await strict.authenticate_token(generic, None) is None
    assert await strict.authenticate_token(long_form, None) is not None
    assert await strict.authenticate_token(typed, None) is not None

    lenient = make(peer, api_audience=API, typed_access_tokens="false")
    for token in (untyped, generic, typed, untyped):
        assert await lenient.authenticate_token(token, None) is not None

    auto = make(peer, api_audience=API)
    assert await auto.authenticate_token(untyped, None) is not None
    assert await auto.authenticate_token(generic, None) is not None
    assert await auto.authenticate_token(typed, None) is not None  # the issuer types them
    assert await auto.authenticate_token(untyped, None) is None
    assert await auto.authenticate_token(generic, None) is None
    assert await auto.authenticate_token(typed, None) is not None


async def test_refresh_redeems_refresh_token_and_ends_on_refusal(provider: OIDCAuth) -> None:
    query, state, cookies = await login(provider)
    result = await provider.handle_callback(query["code"], state, cookie_header=cookies)
    session_id = result.cookies[1].split(";", 1)[0].split("=", 1)[1]
    # Pretend the IdP access token has expired: the refresh must go to the IdP.
    payload = provider.sessions.unseal(session_id)
    assert payload is not None
    payload.meta["atExp"] = int(time.time()) - 10
    old_refresh = payload.meta["refreshToken"]
    expired = provider.sessions.seal(payload)
    refreshed = await provider.refresh_session(expired)
    assert refreshed is not None and refreshed.user is not None and refreshed.user.id == "alice"
    new_payload = provider.sessions.unseal(refreshed.id)
    assert new_payload is not None and new_payload.meta["atExp"] > time.time()
    assert (
        new_payload.meta["refreshToken"] != old_refresh
    )  # oidc-provider rotates public-client refresh tokens
    # A refresh token the IdP no longer honours ends the session.
    new_payload.meta["atExp"] = int(time.time()) - 10
    new_payload.meta["refreshToken"] = "revoked-or-unknown"
    assert await provider.refresh_session(provider.sessions.seal(new_payload)) is None


async def test_production_cookie_names(peer: OIDCPeer) -> None:
    provider = make(peer, settings=Settings(env="production", public_url="https://app.example"))
    [cookie] = provider.get_login_cookies(CALLBACK, new_secret())
    assert cookie.startswith("__Host-mastra_oidc_login=") and cookie.endswith("; Secure")
    names = [h.split("=", 1)[0] for _, h in provider.get_clear_session_headers()]
    assert names == ["__Host-mastra_oidc_session", "__Host-mastra_oidc_login"]
    assert provider.owns_sessions is True
    assert provider.get_login_button_config().to_json() == {"provider": "oidc", "text": "Sign in with SSO"}


async def test_token_endpoint_unreachable_is_a_network_error(provider: OIDCAuth, monkeypatch: Any) -> None:
    """The code exchange runs on Authlib's client (httpx2): a refused connection must
    surface as ``network_error`` (503-class), not a generic ``sso_failed``."""
    from mastra.core.testing.servers import free_port

    query, state, cookies = await login(provider)
    metadata = dict(await provider.metadata.get())
    metadata["token_endpoint"] = f"http://127.0.0.1:{free_port()}/token"  # nothing listens

    async def dead_endpoint_metadata() -> dict[str, Any]:
        return metadata

    monkeypatch.setattr(provider.metadata, "get", dead_endpoint_metadata)
    with pytest.raises(SSOError) as err:
        await provider.handle_callback(query["code"], state, cookie_header=cookies)
    assert err.value.code == "network_error"
