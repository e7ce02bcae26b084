"""Fixtures of the end-to-end studio tests: headless Debian Chromium (never a downloaded
browser) against ``create_app`` served by uvicorn on 127.0.0.1, with the reference
credentials provider and, where a test needs SSO, a loopback IdP emulator."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from mastra.core.ee.errors import SSOError
from mastra.core.ee.hookspecs import hookimpl
from mastra.core.ee.models import EEUser, SSOCallbackResult, SSOLoginConfig, SSOTokens
from mastra.core.testing.reference import ReferenceUser, reference_app, reference_settings
from mastra.core.testing.servers import BackgroundServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[4] / "test-artifacts" / "screenshots"


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is required at /usr/bin/chromium")
        pytest.skip("Debian chromium not installed")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    # The async API on the test's own loop: Playwright's sync API keeps a loop running
    # on the main thread, which would break every async fixture that follows it.
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


# -- a loopback SSO provider and its IdP emulator ---------------------------------------


@dataclass
class LoopbackIdP:
    """A minimal OAuth authorization endpoint: issues single-use codes or an error."""

    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    deny: bool = False
    user: dict[str, str] = field(default_factory=lambda: {"email": "sso.user@example.com", "name": "Sam Sso"})
    server: BackgroundServer | None = None

    def app(self) -> Starlette:
        async def authorize(request: Request) -> RedirectResponse:
            params = request.query_params
            if self.deny:
                query = {"error": "access_denied", "state": params["state"]}
            else:
                code = secrets.token_urlsafe(16)
                self.codes[code] = dict(self.user)
                query = {"code": code, "state": params["state"]}
            return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)

        return Starlette(routes=[Route("/authorize", authorize)])


class LoopbackSSO:
    """ISSOProvider over :class:`LoopbackIdP`; SSO users become reference users."""

    def __init__(self, idp: LoopbackIdP) -> None:
        self.idp = idp
        self.auth: Any = None

    def bind(self, auth: Any) -> None:
        self.auth = auth

    def get_login_url(self, redirect_uri: str, state: str) -> str:
        assert self.idp.server is not None
        return f"{self.idp.server.url}/authorize?{urlencode({'redirect_uri': redirect_uri, 'state': state})}"

    async def handle_callback(
        self, code: str, state: str, *, cookie_header: str | None = None
    ) -> SSOCallbackResult:
        info = self.idp.codes.pop(code, None)
        if info is None:
            raise SSOError("sso_failed")
        users = self.auth.user.users
        found = next((u for u in users.values() if u.email == info["email"]), None)
        if found is None:
            found = ReferenceUser(
                f"sso-{secrets.token_hex(6)}", info["email"], info["name"], "00:00", "member"
            )
            users[found.id] = found
        user = EEUser(id=found.id, email=found.email, name=found.name, metadata={"role": found.role})
        return SSOCallbackResult(user=user, tokens=SSOTokens(access_token=secrets.token_urlsafe(16)))

    def get_login_button_config(self) -> SSOLoginConfig:
        return SSOLoginConfig(provider="loopback", text="Sign in with Loopback SSO")


class LoopbackPlugin:
    def __init__(self, provider: LoopbackSSO) -> None:
        self.provider = provider

    @hookimpl
    def mastra_ee_provider_names(self) -> dict[str, list[str]]:
        return {"sso": ["loopback"]}

    @hookimpl
    def mastra_ee_sso_provider(self, name: str, options: Any) -> Any:
        return self.provider if name == "loopback" else None


# -- the studio under test ----------------------------------------------------------------


@dataclass
class Studio:
    url: str
    app: Any
    idp: LoopbackIdP | None
    base: str = "/"

    @property
    def reference(self) -> Any:
        return self.app.state.mastra_ee.auth.user

    def page_url(self, slug: str = "") -> str:
        return f"{self.url}{self.base}{slug}"

    def api(self) -> httpx.Client:
        """A script-side HTTP client (its own cookie jar), Origin set for CSRF."""
        prefix = self.app.state.mastra_ee.settings.normalised_api_prefix
        return httpx.Client(base_url=f"{self.url}{prefix}", headers={"origin": self.url}, timeout=30)

    def sign_up(self, email: str, name: str | None = None) -> httpx.Client:
        client = self.api()
        r = client.post(
            "/auth/credentials/sign-up", json={"email": email, "password": PASSWORD, "name": name or email}
        )
        assert r.status_code == 201, r.text
        return client

    def set_role(self, email: str, role: str) -> None:
        user = next(u for u in self.reference.users.values() if u.email == email)
        user.role = role


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Callable[..., Studio]]:
    """``studio(sso=True, credentials=False, auth={...}, **settings)`` starts a server."""
    stack = ExitStack()

    def start(*, sso: bool = False, credentials: bool = True, **overrides: Any) -> Studio:
        auth = dict(overrides.pop("auth", {}))
        plugins: dict[str, Any] = {}
        idp = None
        if sso:
            idp = LoopbackIdP()
            idp.server = stack.enter_context(BackgroundServer(idp.app()))
            plugins["loopback"] = LoopbackPlugin(LoopbackSSO(idp))
            auth["sso"] = "loopback"
        if not credentials:
            auth["credentials"] = None
        db = tmp_path / f"studio-{secrets.token_hex(4)}.db"
        settings = reference_settings(f"sqlite+aiosqlite:///{db}", auth=auth, **overrides)
        app = reference_app(settings, plugins=plugins)
        server = stack.enter_context(BackgroundServer(app))
        return Studio(server.url, app, idp, settings.normalised_studio_base)

    with stack:
        yield start
        # Browsers are closed by now; give uvicorn a moment to see their connections
        # go away, so no accepted socket outlives the server's event loop.
        time.sleep(0.3)


@dataclass
class PageProblems:
    """Script errors and CSP violations seen by a page: both must stay empty."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console: {msg.text}")
                if msg.type == "error" and ("Content Security Policy" in msg.text or "Refused to" in msg.text)
                else None
            ),
        )
        return page


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """``await new_page(viewport=...)`` → a page in a fresh context (own cookies)."""
    contexts: list[Any] = []
    problems = PageProblems()

    async def make(**context_options: Any) -> Any:
        context_options.setdefault("viewport", {"width": 1280, "height": 800})
        context = await browser.new_context(accept_downloads=True, **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return problems.watch(await context.new_page())

    yield make
    for context in contexts:
        await context.close()
    assert problems.errors == []


@pytest.fixture
def shot() -> Callable[[Any, str], Awaitable[None]]:
    """``await shot(page, name)`` saves ``test-artifacts/screenshots/<name>.png`` (gitignored)."""

    async def save(page: Any, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save


# Keep-alive sockets between Chromium and the threaded uvicorn servers are sometimes
# collected after the server's loop has stopped; that is a teardown race of the test
# harness, not a leak in the studio, so exactly that warning is ignored here.
_SOCKET_FILTERS = (
    "ignore:unclosed <socket.socket:ResourceWarning",
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.path)).parent == here:
            for spec in _SOCKET_FILTERS:
                item.add_marker(pytest.mark.filterwarnings(spec))
