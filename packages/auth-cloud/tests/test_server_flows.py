"""Browser-style flows through the real server (``mastra.core.server.create_app``):
the plugin is loaded from its entry point, the app and the IdP (Cloud emulator or
the real oidc-provider) run on loopback, and an httpx client plays the browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
from cloud_emulator import CloudEmulator
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings
from mastra.core.server import create_app
from mastra.core.testing.servers import BackgroundServer, free_port
from oidc_peer import OIDCPeer, browser_login, client_credentials_token

SECRET = "t" * 48


def start_app(options: dict[str, Any], port: int, *, name: str, rbac: bool, db: str) -> BackgroundServer:
    settings = Settings(
        auth={
            "user": name,
            "session": name,
            "sso": name,
            **({"rbac": name} if rbac else {}),
            "options": {name: options},
        },
        auth_secret=SECRET,
        public_url=f"http://127.0.0.1:{port}",
        database_url=db,
    )
    registry = PluginRegistry.default(settings)
    auth = build_auth(settings, registry)
    # lifespan on: shutdown closes the providers' pooled connections, as in production
    return BackgroundServer(create_app(settings, auth=auth, registry=registry), port=port, lifespan="on")


@pytest.fixture
def cloud(sqlite_url: str) -> Iterator[tuple[CloudEmulator, str]]:
    emu = CloudEmulator()
    port = free_port()
    with BackgroundServer(emu.app()) as cloud_server:
        options = {"project_id": "proj_test", "cloud_base_url": cloud_server.url}
        with start_app(options, port, name="cloud", rbac=True, db=sqlite_url) as app:
            yield emu, app.url


async def begin(browser: httpx.AsyncClient, app: str, target: str = "/agents") -> str:
    response = await browser.get(f"{app}/api/auth/sso/login", params={"redirect_uri": target})
    assert response.status_code == 200, response.text
    return str(response.json()["url"])


async def follow_cloud(browser: httpx.AsyncClient, url: str) -> str:
    response = await browser.get(url)
    assert response.status_code == 302
    return response.headers["location"]


async def test_cloud_login_me_capabilities_logout(cloud: tuple[CloudEmulator, str]) -> None:
    emu, app = cloud
    async with httpx.AsyncClient() as browser:
        callback = await follow_cloud(browser, await begin(browser, app))
        response = await browser.get(callback)
        assert response.status_code == 302
        assert response.headers["location"] == f"{app}/agents"
        set_cookies = response.headers.get_list("set-cookie")
        assert any(c.startswith("mastra_cloud_session=cloud_") for c in set_cookies)
        assert any(c.startswith("mastra_pkce_verifier=;") for c in set_cookies)

        me = (await browser.get(f"{app}/api/auth/me")).json()
        assert me["id"] == "user_1" and me["email"] == "ann@example.com"
        assert me["roles"] == ["admin"] and "agents:*" in me["permissions"]
        caps = (await browser.get(f"{app}/api/auth/capabilities")).json()
        assert caps["login"]["sso"]["provider"] == "mastra"
        assert caps["capabilities"]["rbac"] is True  # Cloud auth bypasses the license gate
        assert caps["access"]["roles"] == ["admin"]

        out = await browser.post(f"{app}/api/auth/logout", headers={"Origin": app})
        assert out.status_code == 200
        redirect = out.json()["redirectTo"]
        assert urlparse(redirect).path == "/auth/logout"
        assert parse_qs(urlparse(redirect).query)["post_logout_redirect_uri"] == [f"{app}/"]
        assert emu.count("/auth/session/destroy") == 1
        assert (await browser.get(f"{app}/api/auth/me")).json() is None


async def test_cloud_callback_in_another_browser_is_refused(cloud: tuple[CloudEmulator, str]) -> None:
    _, app = cloud
    async with httpx.AsyncClient() as attacker, httpx.AsyncClient() as victim:
        callback = await follow_cloud(attacker, await begin(attacker, app))
        await begin(victim, app)  # the victim has a login of their own in progress
        response = await victim.get(callback)
        assert response.status_code == 302
        assert "/login?error=invalid_state" in response.headers["location"]
        assert (await victim.get(f"{app}/api/auth/me")).json() is None


async def test_cloud_callback_replayed_is_refused(cloud: tuple[CloudEmulator, str]) -> None:
    _, app = cloud
    async with httpx.AsyncClient() as browser:
        callback = await follow_cloud(browser, await begin(browser, app))
        assert (await browser.get(callback)).headers["location"] == f"{app}/agents"
        again = await browser.get(callback)
        assert "/login?error=" in again.headers["location"]


async def test_cloud_down_lands_on_login_with_clear_error(cloud: tuple[CloudEmulator, str]) -> None:
    emu, app = cloud
    async with httpx.AsyncClient() as browser:
        callback = await follow_cloud(browser, await begin(browser, app))
        emu.down = True
        response = await browser.get(callback)
        assert response.status_code == 302
        assert "/login?error=cloud_api_error&redirect=%2Fagents" in response.headers["location"]


async def test_cloud_revoked_session_after_cache_ttl(sqlite_url: str) -> None:
    emu = CloudEmulator()
    port = free_port()
    with BackgroundServer(emu.app()) as cloud_server:
        options = {"project_id": "proj_test", "cloud_base_url": cloud_server.url, "verify_cache_ttl": 0}
        with start_app(options, port, name="cloud", rbac=False, db=sqlite_url) as app:
            async with httpx.AsyncClient() as browser:
                callback = await follow_cloud(browser, await begin(browser, app.url))
                await browser.get(callback)
                assert (await browser.get(f"{app.url}/api/auth/me")).json()["id"] == "user_1"
                for token in list(emu.tokens):
                    emu.revoke(token)
                assert (await browser.get(f"{app.url}/api/auth/me")).json() is None
                response = await browser.get(f"{app.url}/api/agents")
                assert response.status_code == 401


@pytest.mark.node
async def test_oidc_login_through_server(sqlite_url: str) -> None:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/auth/sso/callback"
    clients = [
        {
            "client_id": "app",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [callback],
            "post_logout_redirect_uris": [f"http://127.0.0.1:{port}/"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }
    ]
    with OIDCPeer(clients) as peer:
        options = {"issuer": peer.issuer, "client_id": "app", "roles_claim": "roles", "registry": "sql"}
        with start_app(options, port, name="oidc", rbac=False, db=sqlite_url) as app:
            async with httpx.AsyncClient() as browser, httpx.AsyncClient() as other:
                url = await begin(browser, app.url)
                at_callback = await browser_login(url, callback, browser=browser)
                assert parse_qs(urlparse(at_callback).query)["iss"] == [peer.issuer]
                # The same callback URL in another browser does not log that browser in.
                await begin(other, app.url)
                refused = await other.get(at_callback)
                assert "/login?error=invalid_state" in refused.headers["location"]

                response = await browser.get(at_callback)
                assert response.status_code == 302 and response.headers["location"] == f"{app.url}/agents"
                me = (await browser.get(f"{app.url}/api/auth/me")).json()
                assert me["id"] == "alice" and me["name"] == "Alice Liddell"
                sessions = (await browser.get(f"{app.url}/api/auth/sessions")).json()["sessions"]
                assert len(sessions) == 1 and sessions[0]["current"] is True

                out = await browser.post(f"{app.url}/api/auth/logout", headers={"Origin": app.url})
                redirect = out.json()["redirectTo"]
                assert redirect.startswith(f"{peer.issuer}/session/end?")
                assert "id_token_hint=" in redirect
                assert (await browser.get(f"{app.url}/api/auth/me")).json() is None
                end = await browser.get(urljoin(peer.issuer, redirect))
                assert end.status_code == 200  # the IdP accepted the hint and shows its logout page


@pytest.mark.node
@pytest.mark.parametrize("tamper", ["wrong", "missing"])
async def test_oidc_iss_response_parameter_is_checked_through_server(sqlite_url: str, tamper: str) -> None:
    """RFC 9207 mix-up defence end to end: the host hands the callback request to the
    provider, which refuses a wrong or (when advertised) missing ``iss`` parameter."""
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/auth/sso/callback"
    clients = [
        {
            "client_id": "app",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [callback],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }
    ]
    with OIDCPeer(clients) as peer:
        options = {"issuer": peer.issuer, "client_id": "app", "registry": "memory"}
        with start_app(options, port, name="oidc", rbac=False, db=sqlite_url) as app:
            async with httpx.AsyncClient() as browser:
                at_callback = await browser_login(await begin(browser, app.url), callback, browser=browser)
                parsed = urlparse(at_callback)
                query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                if tamper == "wrong":
                    query["iss"] = "https://attacker.example"
                else:
                    query.pop("iss")
                response = await browser.get(callback, params=query)
                assert response.status_code == 302
                assert "/login?error=" in response.headers["location"]
                assert (await browser.get(f"{app.url}/api/auth/me")).json() is None


# -- S24: a bearer token is an access token (issue #10, finding 5) ---------------------------

API = "urn:mastra:api"
SVC_SECRET = "svc-secret-0123456789-abcdefghijklmnop"


def oidc_clients(port: int) -> list[dict[str, Any]]:
    return [
        {
            "client_id": "app",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [f"http://127.0.0.1:{port}/api/auth/sso/callback"],
            "post_logout_redirect_uris": [f"http://127.0.0.1:{port}/"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        },
        {
            "client_id": "svc",
            "client_secret": SVC_SECRET,
            "token_endpoint_auth_method": "client_secret_post",
            "redirect_uris": [],
            "grant_types": ["client_credentials"],
            "response_types": [],
        },
    ]


async def bearer_calls(app: str, token: str) -> tuple[int, Any, int]:
    """(GET /auth/sessions status, GET /auth/me body, DELETE /auth/sessions status) for a
    client that holds nothing but ``token`` (no cookies)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers) as attacker:
        listed = await attacker.get(f"{app}/api/auth/sessions")
        me = (await attacker.get(f"{app}/api/auth/me")).json()
        revoked = await attacker.delete(f"{app}/api/auth/sessions")
    return listed.status_code, me, revoked.status_code


@pytest.mark.node
@pytest.mark.parametrize("api_audience", [None, API])
async def test_id_token_is_not_a_bearer_token(sqlite_url: str, api_audience: str | None) -> None:
    """The attack of the finding: the ``id_token_hint`` of a logout URL, replayed as
    ``Authorization: Bearer``, read and revoked the user's sessions. It gets 401 while the
    user still has a live session and after the last logout, with or without bearer
    tokens enabled."""
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/auth/sso/callback"
    with OIDCPeer(oidc_clients(port)) as peer:
        options = {"issuer": peer.issuer, "client_id": "app", "registry": "sql", "api_audience": api_audience}
        with start_app(options, port, name="oidc", rbac=False, db=sqlite_url) as app:
            async with httpx.AsyncClient() as laptop, httpx.AsyncClient() as kiosk:
                for browser in (laptop, kiosk):
                    at_callback = await browser_login(
                        await begin(browser, app.url), callback, browser=browser
                    )
                    assert (await browser.get(at_callback)).status_code == 302
                    assert (await browser.get(f"{app.url}/api/auth/me")).json()["id"] == "alice"
                # alice signs out at the kiosk; the logout URL carries her ID token.
                out = await kiosk.post(f"{app.url}/api/auth/logout", headers={"Origin": app.url})
                [id_token] = parse_qs(urlparse(out.json()["redirectTo"]).query)["id_token_hint"]

                # Her laptop session is still live: the token must not reach it.
                assert await bearer_calls(app.url, id_token) == (401, None, 401)
                listed = await laptop.get(f"{app.url}/api/auth/sessions")
                assert listed.status_code == 200 and len(listed.json()["sessions"]) == 1

                await laptop.post(f"{app.url}/api/auth/logout", headers={"Origin": app.url})
                assert (await laptop.get(f"{app.url}/api/auth/me")).json() is None
                assert await bearer_calls(app.url, id_token) == (401, None, 401)


@pytest.mark.node
@pytest.mark.parametrize("api_audience", [None, API])
async def test_oidc_bearer_access_tokens_need_api_audience(sqlite_url: str, api_audience: str | None) -> None:
    """Without ``api_audience`` no bearer token is accepted; with it, the IdP's access token
    for that audience is, and its access token for another resource server is not."""
    port = free_port()
    with OIDCPeer(oidc_clients(port)) as peer:
        options = {
            "issuer": peer.issuer,
            "client_id": "app",
            "registry": "memory",
            "api_audience": api_audience,
        }
        with start_app(options, port, name="oidc", rbac=False, db=sqlite_url) as app:
            ours = await client_credentials_token(peer, "svc", SVC_SECRET, API)
            if api_audience is None:
                assert await bearer_calls(app.url, ours) == (401, None, 401)
            else:
                status, me, _ = await bearer_calls(app.url, ours)
                assert status == 200 and me["id"] == "svc"
            theirs = await client_credentials_token(peer, "svc", SVC_SECRET, "urn:other:api")
            assert await bearer_calls(app.url, theirs) == (401, None, 401)
