"""Conformance suite for ``ISSOProvider`` (SPEC 3.3, 9.4, S9) and its optional protocols.

Subclass :class:`SSOProviderConformance` and supply a ``provider`` fixture: the SSO
provider under test, pointed at a real or emulated identity provider (the suite asks it
for login URLs and runs callbacks whose code exchange the identity provider refuses).

Class attribute ``callback_url``: the host callback URL the suite passes to
``get_login_url`` and expects back as the ``redirect_uri`` (override it when the
provider is configured with its own ``redirect_uri``).

Optional methods are found with ``isinstance`` against the ``Supports*`` protocols of
:mod:`mastra.core.ee.interfaces` (login cookies, host state, logout URL).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ..ee.errors import SSOError
from ..ee.interfaces import ISSOProvider, SupportsHostState, SupportsLoginCookies, SupportsLogoutUrl
from ..ee.models import SSOLoginConfig
from .sessions import request_with_cookies

__all__ = ["SSOProviderConformance", "login_query"]

#: SPEC 9.4: the code of a failed callback goes into ``login?error=<code>`` as is.
ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")
BAD_CODES = ("not-a-code", "0" * 43, "💥", "a" * 2000)
BAD_STATES = ("", "x", "💥", "a" * 2000, "v1.deadbeef.AAAA", "eyJjc3JmIjoiYSJ9")
BAD_COOKIE_HEADERS = (None, "", "unrelated=1", "%%%; ;=;", "a=" + "b" * 4000)


def login_query(url: str) -> dict[str, str]:
    """The query parameters of a login URL, one value each."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _cookie_header(set_cookies: list[str]) -> str:
    """What a browser sends back for these ``Set-Cookie`` values."""
    return "; ".join(cookie.split(";", 1)[0] for cookie in set_cookies)


class SSOProviderConformance:
    callback_url: str = "http://127.0.0.1:4111/api/auth/sso/callback"

    # -- helpers --------------------------------------------------------------------------

    async def _start_login(self, provider: Any) -> tuple[str, str, str | None]:
        """Host side of ``/auth/sso/login``: ``(host state, the state the identity
        provider sends back, the browser's Cookie header)``."""
        host_state = secrets.token_urlsafe(32)
        url = await provider.get_login_url(self.callback_url, host_state)
        cookies = (
            provider.get_login_cookies(self.callback_url, host_state)
            if isinstance(provider, SupportsLoginCookies)
            else []
        )
        return host_state, login_query(url)["state"], _cookie_header(cookies) or None

    @staticmethod
    async def _refused(provider: Any, code: str, state: str, cookie_header: str | None) -> SSOError:
        with pytest.raises(SSOError) as caught:
            await provider.handle_callback(code, state, cookie_header=cookie_header)
        assert ERROR_CODE.fullmatch(caught.value.code), caught.value.code
        return caught.value

    # -- login ----------------------------------------------------------------------------

    async def test_is_an_sso_provider(self, provider: Any) -> None:
        assert isinstance(provider, ISSOProvider)

    async def test_login_url_carries_the_state_and_redirect_uri(self, provider: Any) -> None:
        state = secrets.token_urlsafe(32)
        url = await provider.get_login_url(self.callback_url, state)
        parts = urlsplit(url)
        assert parts.scheme in {"http", "https"} and parts.netloc
        query = login_query(url)
        assert query["redirect_uri"] == self.callback_url
        if isinstance(provider, SupportsHostState):
            assert provider.host_state_from_callback(query["state"]) == state
        else:
            assert query["state"] == state  # SPEC 3.3: echoed back unchanged

    async def test_each_login_has_its_own_state(self, provider: Any) -> None:
        first = await provider.get_login_url(self.callback_url, secrets.token_urlsafe(32))
        second = await provider.get_login_url(self.callback_url, secrets.token_urlsafe(32))
        assert login_query(first)["state"] != login_query(second)["state"]

    async def test_login_cookies_are_http_only_and_short_lived(self, provider: Any) -> None:
        if not isinstance(provider, SupportsLoginCookies):
            pytest.skip("provider is not a SupportsLoginCookies")
        cookies = provider.get_login_cookies(self.callback_url, secrets.token_urlsafe(32))
        assert cookies and all(isinstance(cookie, str) for cookie in cookies)
        for cookie in cookies:
            attributes = [a.strip() for a in cookie.split(";")[1:]]
            assert {"HttpOnly", "Path=/", "SameSite=Lax"} <= set(attributes), cookie
            max_ages = [int(a.split("=", 1)[1]) for a in attributes if a.startswith("Max-Age=")]
            assert max_ages and 0 < max_ages[0] <= 3600, cookie

    async def test_login_button_config_shape(self, provider: Any) -> None:
        config = provider.get_login_button_config()
        assert isinstance(config, SSOLoginConfig)
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", config.provider), config.provider
        assert isinstance(config.text, str) and config.text.strip()
        assert set(config.to_json()) <= {"provider", "text", "icon", "description"}

    # -- callback -------------------------------------------------------------------------

    async def test_callback_with_a_bad_code_is_an_sso_error(self, provider: Any) -> None:
        for code in BAD_CODES:
            _, state, cookie_header = await self._start_login(provider)
            await self._refused(provider, code, state, cookie_header)

    async def test_callback_without_a_code_is_an_sso_error(self, provider: Any) -> None:
        _, state, cookie_header = await self._start_login(provider)
        await self._refused(provider, "", state, cookie_header)

    async def test_callback_with_a_bad_state_is_an_sso_error(self, provider: Any) -> None:
        for state in BAD_STATES:
            _, _, cookie_header = await self._start_login(provider)
            await self._refused(provider, "not-a-code", state, cookie_header)

    async def test_callback_without_the_login_cookies_is_an_sso_error(self, provider: Any) -> None:
        for cookie_header in BAD_COOKIE_HEADERS:
            _, state, _ = await self._start_login(provider)
            await self._refused(provider, "not-a-code", state, cookie_header)

    # -- optional protocols -----------------------------------------------------------------

    async def test_host_state_of_garbage_is_never_the_host_state(self, provider: Any) -> None:
        if not isinstance(provider, SupportsHostState):
            pytest.skip("provider is not a SupportsHostState (the state comes back unchanged)")
        host_state, _, _ = await self._start_login(provider)
        for garbage in BAD_STATES:
            recovered = provider.host_state_from_callback(garbage)
            assert isinstance(recovered, str) and recovered != host_state

    async def test_logout_url_without_a_session_is_none(self, provider: Any) -> None:
        if not isinstance(provider, SupportsLogoutUrl):
            pytest.skip("provider is not a SupportsLogoutUrl")
        assert await provider.get_logout_url("http://127.0.0.1:4111/", request_with_cookies()) is None
