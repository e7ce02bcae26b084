"""The OIDC provider's cookies (``mastra_oidc_login``, ``mastra_oidc_session``) follow
the core's one S8 rule, ``crypto.cookie_spec``. (Cloud's: test_cloud_provider.py.)"""

from __future__ import annotations

import pytest
from mastra.auth.cloud import OIDCAuth
from mastra.core.ee.crypto import clear_cookie, cookie_spec, set_cookie
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings

CALLBACK = "http://127.0.0.1:4111/api/auth/sso/callback"


@pytest.mark.parametrize(
    ("env", "public_url"),
    [
        ("production", "http://10.0.0.5:4111"),
        ("production", "https://app.example"),
        ("development", "https://app.example"),
        ("development", "http://127.0.0.1:4111"),
    ],
)
async def test_oidc_cookies_follow_the_rule(env: str, public_url: str) -> None:
    settings = Settings(env=env, public_url=public_url, auth_secret="o" * 40)
    options = {"issuer": "https://idp.example", "client_id": "app", "registry": "memory"}
    provider = OIDCAuth.from_options(ProviderOptions(options, settings))
    production = env == "production"
    login = cookie_spec("mastra_oidc_login", production=production, public_url=public_url)
    session = cookie_spec("mastra_oidc_session", production=production, public_url=public_url)
    assert login.secure is session.secure is (production or public_url.startswith("https://"))

    [login_cookie] = provider.get_login_cookies(CALLBACK, "state-1")
    sealed = login_cookie.split(";", 1)[0].split("=", 1)[1]
    assert login_cookie == set_cookie(login, sealed, max_age=600)
    created = await provider.create_session("alice", {"user": {"id": "alice"}})
    assert provider.get_session_headers(created) == [
        ("set-cookie", set_cookie(session, created.id, max_age=43200))
    ]
    assert provider.get_clear_session_headers() == [
        ("set-cookie", clear_cookie(session)),
        ("set-cookie", clear_cookie(login)),
    ]
    await provider.aclose()
