"""The core conformance suites (user, session, SSO) against the Mastra Cloud provider
and the loopback Cloud emulator.

Cloud issues sessions only at the end of its hosted login, so the suites' ``sign_in`` /
``new_session`` hooks run that login as the host and a browser would: login URL and
PKCE cookie, the emulator's redirect back with a code, ``handle_callback``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cloud_emulator import CloudEmulator, CloudUser
from mastra.auth.cloud import MastraCloudAuth
from mastra.core.ee.crypto import new_secret
from mastra.core.ee.models import EEUser, Session
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings
from mastra.core.testing.servers import BackgroundServer
from mastra.core.testing.sessions import SessionProviderConformance, request_with_cookies
from mastra.core.testing.sso import SSOProviderConformance, login_query
from mastra.core.testing.users import UserProviderConformance
from starlette.requests import Request

CALLBACK = "http://127.0.0.1:4111/api/auth/sso/callback"


@pytest.fixture
def emulator() -> CloudEmulator:
    return CloudEmulator()


@pytest.fixture
def emulator_url(emulator: CloudEmulator) -> Iterator[str]:
    with BackgroundServer(emulator.app()) as server:
        yield server.url


@pytest.fixture
async def provider(emulator: CloudEmulator, emulator_url: str) -> AsyncIterator[MastraCloudAuth]:
    options = {"project_id": emulator.project_id, "cloud_base_url": emulator_url, "secret": "s" * 40}
    provider = MastraCloudAuth.from_options(
        ProviderOptions(options, Settings(public_url="http://127.0.0.1:4111", _env_file=None))
    )
    yield provider
    await provider.aclose()


async def cloud_login(provider: MastraCloudAuth, emulator: CloudEmulator, user: CloudUser) -> str:
    """Sign ``user`` in through the emulator's hosted login; returns the session cookie value."""
    emulator.login_as = user
    state = new_secret()
    url = await provider.get_login_url(CALLBACK, state)
    set_cookies = provider.get_login_cookies(CALLBACK, state)
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302
    query = login_query(response.headers["location"])
    assert urlsplit(response.headers["location"]).path == urlsplit(CALLBACK).path
    cookie_header = "; ".join(cookie.split(";", 1)[0] for cookie in set_cookies)
    result = await provider.handle_callback(query["code"], query["state"], cookie_header=cookie_header)
    assert result.user.id == user.sub
    (session_cookie,) = [c for c in result.cookies if c.startswith(provider.session_cookie.name + "=")]
    return session_cookie.split(";", 1)[0].split("=", 1)[1]


class CloudLogin:
    """Gives a suite the emulator its hooks sign users in through."""

    emulator: CloudEmulator

    @pytest.fixture(autouse=True)
    def _cloud_emulator(self, emulator: CloudEmulator) -> None:
        self.emulator = emulator


class TestCloudSessions(CloudLogin, SessionProviderConformance):
    supports_listing = False  # Cloud offers no session listing
    preserves_metadata = False  # the session is Cloud's; it carries no host metadata
    absolute_timeout = 86400  # what Cloud (and the emulator) gives a session
    controls_clock = False
    clock_skip_reason = (
        "Mastra Cloud owns session lifetimes: /auth/session/validate answers each session's "
        "expiry, and refresh re-validates; no clock of the provider decides either"
    )

    async def new_session(self, provider: MastraCloudAuth, user_id: str, metadata: dict[str, Any]) -> Session:
        token = await cloud_login(provider, self.emulator, CloudUser(user_id, f"{user_id}@example.com"))
        session = await provider.validate_session(token)
        assert session is not None
        return session


class TestCloudUsers(CloudLogin, UserProviderConformance):
    looks_up_users = False  # SPEC 10.3: Mastra Cloud has no user lookup endpoint

    async def sign_in(self, provider: MastraCloudAuth, email: str) -> tuple[EEUser, Request]:
        user = CloudUser("user_" + email.split("@")[0].replace(".", "_"), email)
        token = await cloud_login(provider, self.emulator, user)
        return EEUser(id=user.sub, email=email), request_with_cookies({provider.session_cookie.name: token})


class TestCloudSSO(SSOProviderConformance):
    pass
