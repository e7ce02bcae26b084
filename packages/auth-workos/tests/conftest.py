"""Fixtures: the WorkOS emulator on loopback and providers pointed at it.

The emulator lives in ``tests/emulator``; it is loaded under the unique module name
``workos_emulator`` so it never collides with another package's test helpers.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["mastra.core.testing.fixtures"]


def _load_emulator() -> Any:
    if "workos_emulator" in sys.modules:
        return sys.modules["workos_emulator"]
    folder = Path(__file__).parent / "emulator"
    spec = importlib.util.spec_from_file_location(
        "workos_emulator", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["workos_emulator"] = module
    spec.loader.exec_module(module)
    return module


_load_emulator()

from mastra.auth.workos import WorkOSAuthProvider  # noqa: E402
from mastra.core.ee.options import ProviderOptions  # noqa: E402
from mastra.core.ee.settings import Settings  # noqa: E402
from mastra.core.testing.servers import BackgroundServer  # noqa: E402
from workos_emulator import API_KEY, CLIENT_ID, WorkOSEmulator  # noqa: E402

ORG = "org_01EMULATED"
COOKIE_PASSWORD = "a-cookie-password-of-at-least-32-characters!"
ROLE_MAPPING = {
    "admin": ["*"],
    "member": ["agents:read", "agents:execute", "studio:read"],
    "_default": ["studio:read"],
}


@pytest.fixture(autouse=True)
def _no_workos_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "WORKOS_API_KEY",
        "WORKOS_CLIENT_ID",
        "WORKOS_BASE_URL",
        "WORKOS_COOKIE_PASSWORD",
        "WORKOS_REDIRECT_URI",
        "WORKOS_WEBHOOK_SECRET",
        "WORKOS_ISSUER",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def emulator() -> Iterator[WorkOSEmulator]:
    emu = WorkOSEmulator()
    with BackgroundServer(emu.app()) as server:
        emu.base_url = server.url
        yield emu


@pytest.fixture
def settings() -> Settings:
    return Settings(public_url="http://127.0.0.1:4111", _env_file=None)


@pytest.fixture
def workos_options(emulator: WorkOSEmulator) -> dict[str, Any]:
    return {
        "api_key": API_KEY,
        "client_id": CLIENT_ID,
        "base_url": emulator.base_url,
        "cookie_password": COOKIE_PASSWORD,
        "role_mapping": ROLE_MAPPING,
        "organization_id": ORG,
        "webhook_secret": "whsec_emulated_secret",
        "max_retries": 0,
        "request_timeout": 5,
    }


def tune(provider: WorkOSAuthProvider) -> WorkOSAuthProvider:
    """Fast test knobs: no JWKS refetch pause, short audit backoff."""
    provider.jwks.refetch_interval = 0
    provider.audit_backoff = 0.01
    provider.export_backoff = 0.01
    return provider


@pytest.fixture
async def provider(workos_options: dict[str, Any], settings: Settings) -> AsyncIterator[WorkOSAuthProvider]:
    p = tune(WorkOSAuthProvider.from_options(ProviderOptions(workos_options, settings)))
    yield p
    await p.aclose()


CALLBACK = "http://127.0.0.1:4111/api/auth/sso/callback"


@pytest.fixture
def login(emulator: WorkOSEmulator) -> Any:
    """Browser-style sign-in: follow the authorize URL, run the callback, return the cookie."""
    from urllib.parse import parse_qs, urlsplit

    import httpx

    async def _login(provider: WorkOSAuthProvider, user_id: str, state: str = "host-state") -> str:
        emulator.login_as = user_id
        url = await provider.get_login_url(CALLBACK, state)
        async with httpx.AsyncClient() as browser:
            response = await browser.get(url)
        assert response.status_code == 302
        location = response.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == [state]  # the host state comes back unchanged
        result = await provider.handle_callback(query["code"][0], query["state"][0])
        (cookie,) = result.cookies
        name, _, rest = cookie.partition("=")
        assert name == provider.cookie.name
        return rest.split(";", 1)[0]

    return _login


def cookie_request(provider: WorkOSAuthProvider, sealed: str | None, *, bearer: str | None = None) -> Any:
    """A Starlette request carrying the session cookie (and optionally a bearer token)."""
    from starlette.requests import Request

    headers: list[tuple[bytes, bytes]] = []
    if sealed is not None:
        headers.append((b"cookie", f"{provider.cookie.name}={sealed}".encode()))
    if bearer is not None:
        headers.append((b"authorization", f"Bearer {bearer}".encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


@pytest.fixture
def make_request() -> Any:
    return cookie_request


@pytest.fixture
def app_settings(workos_options: dict[str, Any]) -> Settings:
    """Every WorkOS capability selected, plus the in-memory audit storage."""
    return Settings(
        public_url="http://127.0.0.1:4111",
        auth={
            "user": "workos",
            "session": "workos",
            "sso": "workos",
            "rbac": "workos",
            "audit": "workos",
            "audit_storage": "memory",
            "options": {"workos": workos_options},
        },
        _env_file=None,
    )


@pytest.fixture
async def http(app_settings: Settings) -> AsyncIterator[Any]:
    """An httpx client on the full server app (``create_app``) with the workos plugin."""
    import httpx
    from mastra.auth.workos.plugin import plugin
    from mastra.core.ee.plugins import PluginRegistry, build_auth
    from mastra.core.server import create_app

    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(plugin, "workos", distribution="mastra-auth-workos")
    auth = build_auth(app_settings, registry)
    tune(auth.user)
    app = create_app(app_settings, auth=auth, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:4111", headers={"origin": "http://127.0.0.1:4111"}
    ) as client:
        client.app = app  # type: ignore[attr-defined]
        client.auth_provider = auth  # type: ignore[attr-defined]
        yield client
    await auth.user.aclose()
