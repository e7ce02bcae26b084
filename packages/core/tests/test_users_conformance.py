"""The user conformance suite against the in-memory reference provider, composed with
the built-in memory sessions it reads its users through."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mastra.core.ee.models import EEUser
from mastra.core.ee.provider import with_ee
from mastra.core.ee.sessions import MemorySessionProvider
from mastra.core.testing.reference import ReferenceProvider
from mastra.core.testing.sessions import cookie_pairs, request_with_cookies
from mastra.core.testing.users import UserProviderConformance
from starlette.requests import Request

PASSWORD = "correct horse battery"


class TestReferenceUsers(UserProviderConformance):
    @pytest.fixture
    async def provider(self) -> AsyncIterator[ReferenceProvider]:
        provider = ReferenceProvider()
        sessions = MemorySessionProvider()
        with_ee(user=provider, credentials=provider, session=sessions)
        yield provider
        await sessions.aclose()

    async def sign_in(self, provider: ReferenceProvider, email: str) -> tuple[EEUser, Request]:
        result = await provider.sign_up(email, PASSWORD, None, None)
        session = await provider.auth.session.create_session(result.user.id, {})
        return result.user, request_with_cookies(
            cookie_pairs(provider.auth.session.get_session_headers(session))
        )

    async def disable_user(self, provider: ReferenceProvider, user: EEUser) -> None:
        provider.disable_user(user.id)
