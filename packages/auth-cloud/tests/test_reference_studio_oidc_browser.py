"""An OIDC round trip from the reference Mastra Studio (npm ``mastra``) in Chromium (issue #11).

The Studio runs on its own trusted origin and talks to ``create_app`` with the ``oidc``
provider and static RBAC; the IdP is the real npm ``oidc-provider`` (``oidc_peer.py``).
Its SSO button asks ``GET /auth/sso/login?redirect_uri=<page>`` for the IdP URL, the
browser signs in there and comes back through our callback to the Studio, signed in.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings
from mastra.core.server import create_app
from mastra.core.testing.node import mastra_studio_routes
from mastra.core.testing.servers import BackgroundServer, free_port
from oidc_peer import OIDCPeer
from starlette.applications import Starlette

pytestmark = [pytest.mark.browser, pytest.mark.node, pytest.mark.slow]

# The Studio's first paint parses ~7 MB of JavaScript: on two shared cores that can
# take longer than Playwright's default 5 s.
FIRST_PAINT = {"timeout": 15_000}

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is required at /usr/bin/chromium")
        pytest.skip("Debian chromium not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        await chromium.close()


async def test_oidc_sign_in_and_out_from_the_reference_studio(sqlite_url: str, browser: Any) -> None:
    from playwright.async_api import expect

    api_port, studio_port = free_port(), free_port()
    api, studio = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{studio_port}"
    clients = [
        {
            "client_id": "app",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [f"{api}/api/auth/sso/callback"],
            "post_logout_redirect_uris": [f"{api}/"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }
    ]
    with OIDCPeer(clients) as peer:
        settings = Settings(
            auth={
                "user": "oidc",
                "session": "oidc",
                "sso": "oidc",
                "rbac": "static",
                "options": {"oidc": {"issuer": peer.issuer, "client_id": "app", "roles_claim": "roles"}},
            },
            auth_secret="t" * 48,
            public_url=api,
            trusted_origins=[studio],
            database_url=sqlite_url,
        )
        registry = PluginRegistry.default(settings)
        app = create_app(settings, auth=build_auth(settings, registry), registry=registry)
        studio_app = Starlette(routes=mastra_studio_routes(api_url=api))
        with BackgroundServer(app, api_port, lifespan="on"), BackgroundServer(studio_app, studio_port):
            errors: list[str] = []
            context = await browser.new_context()
            context.set_default_timeout(10_000)
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            # `serve` has no agents or workflows routes: the Studio's lists 404 or 401
            # and the browser logs those; any other console error counts.
            page.on(
                "console",
                lambda msg: (
                    errors.append(msg.text)
                    if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                    else None
                ),
            )
            calls: list[str] = []
            page.on(
                "response",
                lambda r: (
                    calls.append(f"{r.request.method} {r.url.split('?')[0]} {r.status}")
                    if "/auth/" in r.url
                    else None
                ),
            )
            await page.goto(f"{studio}/workflows")
            await expect(page.get_by_text("Sign in to continue")).to_be_visible(**FIRST_PAINT)
            await page.get_by_role("button", name="Sign in with SSO").click()
            # The real oidc-provider's dev interaction: login form, then consent.
            await expect(page).to_have_url(re.compile(f"^{re.escape(peer.issuer)}/interaction/"))
            await page.locator('input[name="login"]').fill("alice")
            await page.locator('input[name="password"]').fill("any")
            await page.locator('[type="submit"]').first.click()
            await page.locator('[type="submit"]').first.click()  # consent
            await expect(page).to_have_url(f"{studio}/workflows", **FIRST_PAINT)
            menu = page.locator('button[aria-haspopup="dialog"]').filter(has_text=re.compile("^A$"))
            await menu.click()
            await expect(page.get_by_text("Alice Liddell")).to_be_visible()
            await expect(page.get_by_text("alice@example.com")).to_be_visible()
            # Alice is an admin (roles claim), not `*`: no role preview (SPEC capabilities rule 10).
            await expect(page.get_by_text("Preview as role")).to_have_count(0)
            await page.reload()
            await expect(menu).to_be_visible(**FIRST_PAINT)
            await menu.click()
            await page.get_by_role("button", name="Sign out").click()
            # Our logout answers the IdP's end-session URL; the Studio goes there.
            await expect(page).to_have_url(re.compile(f"^{re.escape(peer.issuer)}/session/end"))
            await page.goto(f"{studio}/workflows")
            await expect(page.get_by_text("Sign in to continue")).to_be_visible(**FIRST_PAINT)
            if os.environ.get("MASTRA_TEST_PRINT_CALLS"):
                print("\n".join(calls))
            await context.close()
            assert errors == []
            for call in (
                "GET /api/auth/sso/login 200",  # a cross-origin fetch with credentials: JSON {url}
                "GET /api/auth/sso/callback 302",  # the browser itself, back from the IdP
                "GET /api/auth/permission-patterns 200",  # RBAC on: the Studio's permission gate
                "POST /api/auth/logout 200",
            ):
                method, path, status = call.split()
                assert f"{method} {api}{path} {status}" in calls, calls
