"""The identity provider down (issue #14): signed-in users keep working, new logins get a
clear 503, and logins work again once the IdP is back.

The real npm ``oidc-provider`` peer is stopped (its process terminated: connections are
refused) under the real server app (``create_app`` served on loopback, SQL session
registry). ``discovery_ttl = 0`` makes every login start read the discovery document,
as a node does whose cached copy expired (or that started during the outage).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from mastra.core.testing.servers import free_port
from oidc_peer import OIDCPeer, browser_login
from test_server_flows import begin, oidc_clients, start_app

USERS = ("alice", "bob", "carol")
REQUESTS_PER_USER = 20


async def sign_in(app: str, callback: str, account: str) -> httpx.AsyncClient:
    browser = httpx.AsyncClient()
    at_callback = await browser_login(await begin(browser, app), callback, account=account, browser=browser)
    done = await browser.get(at_callback)
    assert done.status_code == 302 and done.headers["location"] == f"{app}/agents", done.headers
    assert (await browser.get(f"{app}/api/auth/me")).json()["id"] == account
    return browser


@pytest.mark.node
async def test_idp_down_sessions_keep_working_and_new_logins_get_503(sqlite_url: str) -> None:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/auth/sso/callback"
    with OIDCPeer(oidc_clients(port)) as peer:
        options = {"issuer": peer.issuer, "client_id": "app", "registry": "sql", "discovery_ttl": 0}
        with start_app(options, port, name="oidc", rbac=False, db=sqlite_url) as app:
            browsers = [await sign_in(app.url, callback, account) for account in USERS]
            # A login under way when the IdP goes down: the code is issued, not yet redeemed.
            late = httpx.AsyncClient()
            late_callback = await browser_login(await begin(late, app.url), callback, browser=late)
            try:
                peer.stop()
                with pytest.raises(httpx.ConnectError):
                    httpx.get(f"{peer.issuer}/.well-known/openid-configuration", timeout=2)

                async def me(browser: httpx.AsyncClient, account: str) -> list[int]:
                    statuses = []
                    for _ in range(REQUESTS_PER_USER):
                        response = await browser.get(f"{app.url}/api/auth/me")
                        statuses.append(response.status_code)
                        assert response.json()["id"] == account
                    return statuses

                results = await asyncio.gather(*(me(b, a) for b, a in zip(browsers, USERS, strict=True)))
                statuses = [status for per_user in results for status in per_user]
                assert statuses == [200] * len(USERS) * REQUESTS_PER_USER  # 100 %

                async with httpx.AsyncClient() as newcomer:
                    refused = await asyncio.wait_for(newcomer.get(f"{app.url}/api/auth/sso/login"), 15)
                assert refused.status_code == 503
                body = refused.json()
                assert body["error"] == "Identity provider unavailable"
                assert body["message"] == "Identity provider unavailable"

                failed = await asyncio.wait_for(late.get(late_callback), 15)
                assert failed.status_code == 302
                # The callback is a browser redirect (SPEC 9.4: every outcome a 302) with the
                # OIDC provider's own code for an unreachable IdP.
                assert "/login?error=discovery_failed" in failed.headers["location"]
                assert (await late.get(f"{app.url}/api/auth/me")).json() is None

                peer.start()  # same port, same issuer and signing key
                again = await sign_in(app.url, callback, "dave")
                await again.aclose()
            finally:
                await late.aclose()
                for browser in browsers:
                    await browser.aclose()
