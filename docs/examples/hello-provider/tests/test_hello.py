"""The hello provider passes the core's user conformance suite and composes with the host."""

from __future__ import annotations

import pytest
from mastra.auth.hello import HelloAuth, plugin
from mastra.core.ee import EEUser, PluginRegistry, ProviderOptions, Settings, build_auth
from mastra.core.testing.sessions import request_with_cookies
from mastra.core.testing.users import UserProviderConformance
from starlette.requests import Request

SECRET = "hello-test-secret-0123456789abcdef"  # noqa: S105 - a test value


class TestHelloUsers(UserProviderConformance):
    looks_up_users = False

    @pytest.fixture
    def provider(self) -> HelloAuth:
        return HelloAuth.from_options(ProviderOptions({"secret": SECRET}))

    async def sign_in(self, provider: HelloAuth, email: str) -> tuple[EEUser, Request]:
        token = provider.mint_token(email)
        user = await provider.authenticate_token(token)
        assert user is not None
        return user, request_with_cookies(authorization=f"Bearer {token}")


def test_the_host_selects_and_composes_it() -> None:
    settings = Settings(auth={"user": "hello", "options": {"hello": {"secret": SECRET}}})
    registry = PluginRegistry.default(settings, load_entry_points=False)
    registry.register(plugin, "hello")
    auth = build_auth(settings, registry)
    assert isinstance(auth.user, HelloAuth)
    assert registry.provider_names()["user"] == ["hello"]
