"""Conformance suite for ``IUserProvider`` (SPEC 3.1) and its optional protocols.

Subclass :class:`UserProviderConformance` and supply a ``provider`` fixture: the user
provider under test, bound to its composition when it reads sessions through a
sibling slot. Hooks to override:

* ``async sign_in(provider, email) -> (EEUser, Request)`` (required) — create or pick
  a user with this address at the provider's source of truth, sign them in, and
  return the user and a request carrying the credential a browser or client would
  send (session cookie or ``Authorization`` header);
* ``async disable_user(provider, user)`` — disable that user (required when the
  provider is a :class:`~mastra.core.ee.interfaces.SupportsUserDisable`).

Class flag ``looks_up_users``: ``get_user`` finds a known user by id. Providers whose
identity provider offers no lookup (Mastra Cloud, generic OIDC: SPEC 10.3) set
``False``; the suite then checks they answer ``None`` rather than guess.

Optional methods are found as the host finds them, with ``isinstance`` against the
``Supports*`` protocols of :mod:`mastra.core.ee.interfaces`; each optional test runs
only for providers that have the protocol.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.requests import Request

from ..ee.interfaces import (
    IUserProvider,
    SupportsTokenAuth,
    SupportsUserDisable,
    SupportsUserLookup,
    SupportsUserProfileUrl,
)
from ..ee.models import EEUser
from .sessions import request_with_cookies

__all__ = ["UserProviderConformance", "garbage_tokens"]

UNKNOWN_IDS = ("no-such-user-0123456789", "00000000-0000-4000-8000-000000000000", "../../etc/passwd", "💥")


def garbage_tokens() -> list[str]:
    """Values no provider may accept as a credential, and none may crash on."""
    random = secrets.token_urlsafe(32)
    return [
        "x",
        "null",
        "Bearer",
        random,
        "a" * 5000,
        "\x00",
        "💥",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",  # alg=none JWT for sub "admin"
        "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",  # HS256-shaped, signed with nothing known
        "a.b.c",
        "....",
        "v1.deadbeef.AAAA",
        "%",
    ]


def _tampered(value: str) -> str:
    middle = len(value) // 2
    flipped = "A" if value[middle] != "A" else "B"
    return value[:middle] + flipped + value[middle + 1 :]


def _forged(cookies: dict[str, str], authorization: str | None) -> Request:
    """A request carrying these cookies and ``Authorization`` header (a forger's request)."""
    headers = {"authorization": authorization} if authorization is not None else {}
    return request_with_cookies(cookies, **headers)


class UserProviderConformance:
    looks_up_users: bool = True

    # -- hooks ----------------------------------------------------------------------------

    async def sign_in(self, provider: Any, email: str) -> tuple[EEUser, Request]:
        raise NotImplementedError("override sign_in() for this provider")

    async def disable_user(self, provider: Any, user: EEUser) -> None:
        raise NotImplementedError("override disable_user() for a provider with is_user_disabled")

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _credentials(request: Request) -> tuple[dict[str, str], str | None]:
        cookies = dict(request.cookies)
        authorization = request.headers.get("authorization")
        assert cookies or authorization, "sign_in() must return a request carrying a credential"
        return cookies, authorization

    # -- the required protocol --------------------------------------------------------------

    async def test_is_a_user_provider(self, provider: Any) -> None:
        assert isinstance(provider, IUserProvider)

    async def test_signed_in_request_resolves_to_the_user(self, provider: Any) -> None:
        user, request = await self.sign_in(provider, "ann.users@example.com")
        assert isinstance(user, EEUser) and user.id
        current = await provider.get_current_user(request)
        assert isinstance(current, EEUser)
        assert current.id == user.id
        assert current.email == "ann.users@example.com"

    async def test_users_resolve_to_themselves(self, provider: Any) -> None:
        first, first_request = await self.sign_in(provider, "first.users@example.com")
        second, second_request = await self.sign_in(provider, "second.users@example.com")
        assert first.id != second.id
        for request, expected in ((second_request, second), (first_request, first), (second_request, second)):
            current = await provider.get_current_user(request)
            assert current is not None and current.id == expected.id

    async def test_request_without_credentials_has_no_user(self, provider: Any) -> None:
        assert await provider.get_current_user(request_with_cookies()) is None
        assert await provider.get_current_user(request_with_cookies({"unrelated": "value"})) is None

    async def test_garbage_credentials_have_no_user(self, provider: Any) -> None:
        """SPEC 3.1: ``None`` on any verification error, never an exception."""
        _, request = await self.sign_in(provider, "garbage.users@example.com")
        cookies, authorization = self._credentials(request)
        for garbage in garbage_tokens():
            if garbage == "\x00" or not garbage.isascii():
                continue  # not sendable in an HTTP header
            forged_cookies = {name: garbage for name in cookies}
            forged_authorization = f"Bearer {garbage}" if authorization is not None else None
            forged = _forged(forged_cookies, forged_authorization)
            assert await provider.get_current_user(forged) is None, garbage[:40]

    async def test_tampered_credential_has_no_user(self, provider: Any) -> None:
        _, request = await self.sign_in(provider, "tampered.users@example.com")
        cookies, authorization = self._credentials(request)
        for name, value in cookies.items():
            for forged_value in (_tampered(value), value[:-2], value + "A"):
                forged = _forged({**cookies, name: forged_value}, None)
                assert await provider.get_current_user(forged) is None, name
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            forged = _forged({}, f"{scheme} {_tampered(token)}")
            assert await provider.get_current_user(forged) is None

    async def test_get_user_of_a_known_user(self, provider: Any) -> None:
        user, _ = await self.sign_in(provider, "known.users@example.com")
        found = await provider.get_user(user.id)
        if not self.looks_up_users:
            assert found is None  # no lookup at the identity provider: never a guess
            return
        assert isinstance(found, EEUser)
        assert found.id == user.id and found.email == "known.users@example.com"

    async def test_get_user_of_an_unknown_id_is_none(self, provider: Any) -> None:
        await self.sign_in(provider, "someone.users@example.com")  # the store is not empty
        for user_id in UNKNOWN_IDS:
            assert await provider.get_user(user_id) is None, user_id

    # -- optional protocols -----------------------------------------------------------------

    async def test_get_users_keeps_order_with_none_for_unknown(self, provider: Any) -> None:
        if not isinstance(provider, SupportsUserLookup):
            pytest.skip("provider is not a SupportsUserLookup (the host falls back to get_user)")
        first, _ = await self.sign_in(provider, "order-a.users@example.com")
        second, _ = await self.sign_in(provider, "order-b.users@example.com")
        found = await provider.get_users([second.id, UNKNOWN_IDS[0], first.id, second.id])
        assert [u.id if u is not None else None for u in found] == [second.id, None, first.id, second.id]
        assert await provider.get_users([]) == []

    async def test_is_user_disabled(self, provider: Any) -> None:
        if not isinstance(provider, SupportsUserDisable):
            pytest.skip("provider is not a SupportsUserDisable")
        user, _ = await self.sign_in(provider, "disabled.users@example.com")
        other, _ = await self.sign_in(provider, "enabled.users@example.com")
        assert await provider.is_user_disabled(user.id) is False
        await self.disable_user(provider, user)
        assert await provider.is_user_disabled(user.id) is True
        assert await provider.is_user_disabled(other.id) is False
        assert isinstance(await provider.is_user_disabled(UNKNOWN_IDS[0]), bool)

    async def test_authenticate_token_refuses_garbage(self, provider: Any) -> None:
        """SPEC 3.1: ``None`` for anything that is not a valid token; never raises."""
        if not isinstance(provider, SupportsTokenAuth):
            pytest.skip("provider is not a SupportsTokenAuth")
        await self.sign_in(provider, "token.users@example.com")
        for token in garbage_tokens():
            assert await provider.authenticate_token(token, request_with_cookies()) is None, token[:40]
            assert await provider.authenticate_token(token, None) is None, token[:40]

    async def test_profile_url_is_an_absolute_url(self, provider: Any) -> None:
        if not isinstance(provider, SupportsUserProfileUrl):
            pytest.skip("provider is not a SupportsUserProfileUrl")
        user, _ = await self.sign_in(provider, "profile.users@example.com")
        parts = urlsplit(provider.get_user_profile_url(user))
        assert parts.scheme in {"http", "https"} and parts.netloc
