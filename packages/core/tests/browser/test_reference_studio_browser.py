"""The reference Mastra Studio (npm ``mastra``, ``dist/studio``) against our EE API, in Chromium.

Issue #11: RBAC on (default config), sign-up (first user → owner), reload, user menu,
"Preview as role", sign-out, sign-in; once with the Studio and the API on one origin and
once with the Studio on its own origin (trusted). The Studio is served as ``mastra
studio`` serves it: the static build with the ``%%MASTRA_*%%`` placeholders of its
``index.html`` filled in. The host app answers the Studio's non-auth Mastra API calls
(agents, workflows, tools, ...) with empty results: a host without agents.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.server import mount_ee
from mastra.core.testing.node import mastra_studio_folder, mastra_studio_routes, node_available
from mastra.core.testing.reference import reference_plugin, reference_settings
from mastra.core.testing.servers import BackgroundServer, free_port
from playwright.async_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

pytestmark = [pytest.mark.browser, pytest.mark.node, pytest.mark.slow]

PASSWORD = "correct horse battery"
# The Studio's first paint parses ~7 MB of JavaScript: on two shared cores that can
# take longer than Playwright's default 5 s.
FIRST_PAINT = {"timeout": 15_000}


# -- the hosts ---------------------------------------------------------------------------


# Lists the Studio reads as ``{key: [...]}`` rather than a record keyed by id.
_EMPTY_LISTS = {"workspaces": {"workspaces": []}, "mcp/v0/servers": {"servers": [], "total_count": 0}}


async def _no_mastra_resources(request: Request) -> Response:
    # The host has no agents, workflows or tools: every Mastra resource list is empty.
    return JSONResponse(_EMPTY_LISTS.get(request.path_params["path"], {}))


def api_host(settings: Any, *, studio_for: str | None = None) -> Starlette:
    """Our EE API (``mount_ee``, reference provider) in a host app; with ``studio_for``
    (this host's own URL) it serves the Studio on the same origin, else ``GET /``
    answers the Studio's probe of the server."""
    registry = PluginRegistry.default(settings, load_entry_points=False)
    registry.register(reference_plugin(), "reference")
    routes: list[Any] = [Route(settings.normalised_api_prefix + "/{path:path}", _no_mastra_resources)]
    if studio_for is not None:
        routes += mastra_studio_routes(api_url=studio_for)
    else:
        routes.append(Route("/", lambda request: HTMLResponse("Hello to the Mastra API!")))
    app = Starlette(routes=routes)
    mount_ee(app, settings=settings, auth=build_auth(settings, registry), registry=registry, reset_delay=0.01)
    return app


# -- fixtures: one API per module, the browser from conftest -----------------------------


@pytest.fixture(scope="module")
def studio_build() -> Path:
    if not node_available():
        if os.environ.get("CI"):
            pytest.fail("node/npm not installed")
        pytest.skip("node/npm not installed")
    return mastra_studio_folder()


@dataclass
class Site:
    studio_url: str
    api_url: str
    app: Starlette

    @property
    def reference(self) -> Any:
        return self.app.state.mastra_ee.auth.user


@pytest.fixture(scope="module")
def same_origin(studio_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    port = free_port()
    db = tmp_path_factory.mktemp("same") / "studio.db"
    url = f"http://127.0.0.1:{port}"
    app = api_host(reference_settings(f"sqlite+aiosqlite:///{db}"), studio_for=url)
    with BackgroundServer(app, port, lifespan="on") as server:
        yield Site(server.url, server.url, app)


@pytest.fixture(scope="module")
def own_origin(studio_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    api_port, studio_port = free_port(), free_port()
    db = tmp_path_factory.mktemp("own") / "studio.db"
    settings = reference_settings(
        f"sqlite+aiosqlite:///{db}", trusted_origins=[f"http://127.0.0.1:{studio_port}"]
    )
    app = api_host(settings)
    studio_host = Starlette(routes=mastra_studio_routes(api_url=f"http://127.0.0.1:{api_port}"))
    with (
        BackgroundServer(app, api_port, lifespan="on") as api,
        BackgroundServer(studio_host, studio_port) as studio,
    ):
        yield Site(studio.url, api.url, app)


@dataclass
class Problems:
    """Uncaught errors and console errors. Before sign-in the Studio fetches protected
    lists and the browser logs their 401s: those are expected, nothing else is."""

    signed_in: bool = False
    errors: list[str] = field(default_factory=list)
    #: ``"GET http://…/api/auth/me 200"`` for every auth call the Studio made.
    auth_calls: list[str] = field(default_factory=list)
    #: The browser's cookies once signed in again, at the end.
    cookies: list[dict[str, Any]] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        page.on("response", self._response)
        return page

    def _response(self, response: Any) -> None:
        if "/api/auth/" in response.url:
            url = response.url.split("?")[0]
            self.auth_calls.append(f"{response.request.method} {url} {response.status}")

    def _console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        expected_401 = not self.signed_in and "status of 401" in msg.text
        if not expected_401:
            self.errors.append(f"console: {msg.text}")


async def _page(browser: Any, problems: Problems) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    return problems.watch(await context.new_page())


async def _flow(site: Site, browser: Any) -> Problems:
    problems = Problems()
    page = await _page(browser, problems)
    email = f"owner-{secrets.token_hex(3)}@example.com"
    await page.goto(site.studio_url + "/")
    await expect(page.get_by_text("Sign in to continue")).to_be_visible(**FIRST_PAINT)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_text("Create your account")).to_be_visible()
    await page.get_by_label("Name").fill("Olive Owner")
    await page.get_by_label(re.compile("^Email")).fill(email)
    await page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    problems.signed_in = True
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(re.compile(r"/agents$"))
    assert next(u for u in site.reference.users.values() if u.email == email).role == "owner"
    nav = page.locator("nav").first
    owner_nav = await nav.inner_text()
    menu = page.locator('button[aria-haspopup="dialog"]').filter(has_text=re.compile("^O$"))
    await menu.click()
    await expect(page.get_by_text("Olive Owner")).to_be_visible()
    await expect(page.get_by_text(email)).to_be_visible()
    await expect(page.get_by_text("Preview as role")).to_be_visible()
    await page.get_by_role("button", name="Member").click()
    await expect(page.get_by_text(re.compile("Previewing\\s+member\\s+experience", re.I))).to_be_visible()
    # The preview hides what the member cannot do (Request Context needs more than read).
    await expect(nav).not_to_contain_text("Request Context")
    assert "Request Context" in owner_nav
    await page.get_by_title("Exit role preview").click()
    await menu.click()
    await page.get_by_role("button", name="Viewer").click()
    await expect(page.get_by_text(re.compile("Previewing\\s+viewer\\s+experience", re.I))).to_be_visible()
    await page.get_by_title("Exit role preview").click()
    await expect(nav).to_contain_text("Request Context")

    await page.reload()
    await expect(menu).to_be_visible(**FIRST_PAINT)
    await menu.click()
    problems.signed_in = False  # the Studio refetches its lists once the session is gone
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("Sign in to continue")).to_be_visible(**FIRST_PAINT)
    await expect(menu).to_have_count(0)

    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label(re.compile("^Email")).fill(email)
    await page.get_by_label(re.compile("^Password")).fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("Invalid email or password")).to_be_visible()
    await page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    problems.signed_in = True
    await page.get_by_role("button", name="Sign in").click()
    await expect(menu).to_be_visible()
    await page.reload()
    await expect(menu).to_be_visible(**FIRST_PAINT)
    problems.cookies = await page.context.cookies()
    await page.context.close()
    if os.environ.get("MASTRA_TEST_PRINT_CALLS"):
        print("\n".join(sorted(set(problems.auth_calls))))
    return problems


def _called(problems: Problems, site: Site, *calls: str) -> None:
    for call in calls:
        method, path, status = call.split()
        assert f"{method} {site.api_url}{path} {status}" in problems.auth_calls, problems.auth_calls


async def test_studio_on_the_api_origin(same_origin: Site, browser: Any) -> None:
    problems = await _flow(same_origin, browser)
    assert problems.errors == []
    _called(
        problems,
        same_origin,
        "POST /api/auth/credentials/sign-up 201",
        "GET /api/auth/permission-patterns 200",
    )


async def test_studio_on_its_own_trusted_origin(own_origin: Site, browser: Any) -> None:
    problems = await _flow(own_origin, browser)
    assert problems.errors == []
    # Every auth call went from the Studio's origin to the API's (CORS with credentials).
    assert own_origin.studio_url != own_origin.api_url
    # Another port of the same host is same-site: the API's host-only Lax cookie rides
    # along on the Studio's credentialed fetches, no SameSite=None needed.
    (session,) = [c for c in problems.cookies if c["name"] == "mastra_session"]
    assert session["domain"] == "127.0.0.1" and session["sameSite"] == "Lax" and session["httpOnly"]
    assert all(call.split()[1].startswith(own_origin.api_url) for call in problems.auth_calls)
    _called(
        problems,
        own_origin,
        "POST /api/auth/credentials/sign-up 201",
        "POST /api/auth/credentials/sign-in 401",
        "POST /api/auth/credentials/sign-in 200",
        "POST /api/auth/logout 200",
        "GET /api/auth/capabilities 200",
        "GET /api/auth/permission-patterns 200",
        "GET /api/auth/roles/member/permissions 200",
        "GET /api/auth/roles/viewer/permissions 200",
    )
