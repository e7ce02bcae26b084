"""The ``wos_session`` cookie follows the core's one S8 rule (``crypto.cookie_spec``):
``__Host-`` and ``Secure`` in production, over http too; ``Secure`` in development
when the public URL is https."""

from __future__ import annotations

from typing import Any

import pytest
from mastra.auth.workos import WorkOSAuthProvider
from mastra.core.ee.crypto import clear_cookie, cookie_spec, set_cookie
from mastra.core.ee.options import as_provider_options
from mastra.core.ee.settings import Settings


@pytest.mark.parametrize(
    ("env", "public_url"),
    [
        ("production", "http://10.0.0.5:4111"),
        ("production", "https://app.example"),
        ("development", "https://app.example"),
        ("development", "http://127.0.0.1:4111"),
    ],
)
async def test_session_cookie_follows_the_rule(
    workos_options: dict[str, Any], emulator: Any, login: Any, env: str, public_url: str
) -> None:
    settings = Settings(env=env, public_url=public_url, _env_file=None)
    options = {k: v for k, v in workos_options.items() if k != "_settings"}
    provider = WorkOSAuthProvider.from_options(as_provider_options(options, settings))
    try:
        spec = cookie_spec("wos_session", production=env == "production", public_url=public_url)
        assert spec.secure is (env == "production" or public_url.startswith("https://"))
        sealed = await login(provider, emulator.add_user(f"{env}@example.com")["id"])
        session = await provider.validate_session(sealed)
        assert provider.get_session_headers(session) == [
            ("set-cookie", set_cookie(spec, sealed, max_age=None))
        ]
        assert provider.get_clear_session_headers() == [("set-cookie", clear_cookie(spec))]
    finally:
        await provider.aclose()
