"""The core conformance suites (user, session, SSO) against the generic OIDC provider and
the real npm ``oidc-provider`` peer (tests/peer).

OIDC sessions are the core cookie sessions, but each one holds the user snapshot an ID
token gave it: the suites' ``sign_in`` / ``new_session`` hooks therefore sign in at
the peer as a browser would (login URL, the peer's login and consent forms, callback).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mastra.auth.cloud import OIDCAuth
from mastra.core.ee.crypto import new_secret
from mastra.core.ee.models import EEUser, Session
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings
from mastra.core.testing.sessions import FakeClock, SessionProviderConformance, request_with_cookies
from mastra.core.testing.sso import SSOProviderConformance, login_query
from mastra.core.testing.users import UserProviderConformance
from oidc_peer import OIDCPeer, browser_login
from starlette.requests import Request

pytestmark = pytest.mark.node

CALLBACK = "http://127.0.0.1:4111/api/auth/sso/callback"
CLIENTS = [
    {
        "client_id": "app",
        "token_endpoint_auth_method": "none",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }
]


@pytest.fixture(scope="module")
def peer() -> Iterator[OIDCPeer]:
    with OIDCPeer(CLIENTS) as running:
        yield running


@pytest.fixture
async def provider(peer: OIDCPeer) -> AsyncIterator[OIDCAuth]:
    options = {
        "issuer": peer.issuer,
        "client_id": "app",
        "secret": "o" * 40,
        "registry": "memory",
        "scopes": "openid profile email offline_access",
    }
    provider = OIDCAuth.from_options(
        ProviderOptions(options, Settings(public_url="http://127.0.0.1:4111", _env_file=None))
    )
    yield provider
    await provider.aclose()  # its pooled IdP connections belong to this test's loop


def _callback_request(metadata: dict[str, Any]) -> Request | None:
    """The callback request as the host passes it: where the ``ip``/``userAgent`` of a
    session come from (``None``: a session without them)."""
    if not metadata.get("ip") and not metadata.get("userAgent"):
        return None
    headers = [(b"user-agent", str(metadata.get("userAgent", "")).encode())]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/api/auth/sso/callback",
            "query_string": b"",
            "headers": headers,
            "client": (str(metadata.get("ip", "127.0.0.1")), 5000),
        }
    )


async def oidc_login(provider: OIDCAuth, account: str, metadata: dict[str, Any] | None = None) -> str:
    """Sign ``account`` in at the peer; returns the ``mastra_oidc_session`` cookie value."""
    state = new_secret()
    url = await provider.get_login_url(CALLBACK, state)
    cookie_header = "; ".join(c.split(";", 1)[0] for c in provider.get_login_cookies(CALLBACK, state))
    query = login_query(await browser_login(url, CALLBACK, account=account))
    result = await provider.handle_callback(
        query["code"],
        query["state"],
        cookie_header=cookie_header,
        iss=query.get("iss"),
        request=_callback_request(metadata or {}),
    )
    assert result.user.id == account
    session_name = provider.sessions.cookie.name
    (session_cookie,) = [c for c in result.cookies if c.startswith(session_name + "=")]
    return session_cookie.split(";", 1)[0].split("=", 1)[1]


class TestOIDCSessions(SessionProviderConformance):
    preserves_metadata = False  # a session keeps the login's ip/userAgent, not host metadata

    @pytest.fixture
    def provider(self, provider: OIDCAuth, clock: FakeClock) -> OIDCAuth:  # type: ignore[override]
        # The session lifetimes are the core cookie sessions': the suite's clock drives them.
        provider.sessions.clock = clock
        return provider

    @pytest.fixture
    def user_ids(self) -> tuple[str, str]:
        return ("conformance-one", "conformance-two")

    async def new_session(self, provider: OIDCAuth, user_id: str, metadata: dict[str, Any]) -> Session:
        sealed = await oidc_login(provider, user_id, metadata)
        session_id = provider.get_session_id_from_request(
            request_with_cookies({provider.sessions.cookie.name: sealed})
        )
        assert session_id is not None
        session = await provider.validate_session(session_id)
        assert session is not None
        return session


class TestOIDCUsers(UserProviderConformance):
    looks_up_users = False  # OIDC has no standard user lookup by id (SPEC 10.3)

    async def sign_in(self, provider: OIDCAuth, email: str) -> tuple[EEUser, Request]:
        account = email.split("@")[0]  # the peer's accounts: <id>@example.com
        sealed = await oidc_login(provider, account)
        return EEUser(id=account, email=email), request_with_cookies({provider.sessions.cookie.name: sealed})


class TestOIDCSSO(SSOProviderConformance):
    pass


async def test_a_session_created_directly_validates(provider: OIDCAuth) -> None:
    """Found by the session suite: without a user snapshot the session never validated."""
    session = await provider.create_session("conformance-direct", {})
    validated = await provider.validate_session(session.id)
    assert validated is not None and validated.user_id == "conformance-direct"
