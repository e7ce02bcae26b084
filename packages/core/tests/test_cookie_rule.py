"""Every cookie the core names follows the one S8 rule, ``crypto.cookie_spec``
(SPEC 8.1): the session cookies of the ``memory`` and ``cookie`` providers and the
SSO state cookie. The rule itself is tested as a table in test_crypto.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from mastra.core.ee.crypto import CookieSpec, clear_cookie, cookie_spec, set_cookie
from mastra.core.ee.options import as_provider_options
from mastra.core.ee.sessions import CookieSessionProvider, MemorySessionProvider
from mastra.core.ee.settings import Settings
from mastra.core.server.routes._sso import state_cookie_spec
from starlette.requests import Request

SECRET = "k" * 40

# (env, public URL, cookie_domain)
SETTINGS = [
    ("production", "http://10.0.0.5:4111", None),
    ("production", None, None),
    ("production", "https://app.example", None),
    ("production", "https://app.example", "example.com"),
    ("development", "https://app.example", None),
    ("development", "http://127.0.0.1:4111", None),
    ("development", None, "example.com"),
]


def expected(base: str, env: str, public_url: str | None, domain: str | None = None) -> CookieSpec:
    return cookie_spec(base, production=env == "production", public_url=public_url, domain=domain)


@pytest.mark.parametrize(("env", "public_url", "domain"), SETTINGS)
@pytest.mark.parametrize("provider_class", [MemorySessionProvider, CookieSessionProvider])
async def test_session_cookies_follow_the_rule(
    provider_class: type[MemorySessionProvider] | type[CookieSessionProvider],
    env: str,
    public_url: str | None,
    domain: str | None,
) -> None:
    settings = Settings(env=env, public_url=public_url, auth_secret=SECRET)
    options = {"registry": "memory", **({"cookie_domain": domain} if domain else {})}
    provider = provider_class.from_options(as_provider_options(options, settings))
    spec = expected("mastra_session", env, public_url, domain)
    session = await provider.create_session("u1")
    assert provider.get_session_headers(session) == [
        ("set-cookie", set_cookie(spec, session.id, max_age=43200))
    ]
    assert provider.get_clear_session_headers() == [("set-cookie", clear_cookie(spec))]
    if env == "production":
        assert spec.secure and spec.name.startswith("__Secure-" if domain else "__Host-")


def sso_request(scheme: str, host: str) -> Request:
    headers = [(b"host", host.encode())]
    return Request({"type": "http", "scheme": scheme, "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("env", "public_url", "scheme", "name", "secure"),
    [
        ("production", "http://10.0.0.5:4111", "http", "__Host-mastra_sso_state", True),
        ("production", "https://app.example", "http", "__Host-mastra_sso_state", True),
        ("development", "https://app.example", "http", "mastra_sso_state", True),
        ("development", None, "https", "mastra_sso_state", True),  # served over https: the origin
        ("development", None, "http", "mastra_sso_state", False),
    ],
)
def test_sso_state_cookie_follows_the_rule(
    env: str, public_url: str | None, scheme: str, name: str, secure: bool
) -> None:
    ctx = SimpleNamespace(settings=Settings(env=env, public_url=public_url, auth_secret=SECRET))
    spec = state_cookie_spec(ctx, sso_request(scheme, "localhost:4111"))
    assert (spec.name, spec.secure, spec.domain) == (name, secure, None)
