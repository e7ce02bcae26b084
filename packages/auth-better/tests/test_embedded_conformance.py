"""The core conformance suites against the embedded mode, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from mastra.auth.better import EmbeddedBetterAuth
from mastra.core.ee.models import EEUser
from mastra.core.ee.provider import with_ee
from mastra.core.ee.sessions import CookieSessionProvider, MemorySessionRegistry
from mastra.core.testing.credentials import CredentialsProviderConformance
from mastra.core.testing.sessions import (
    FakeClock,
    SessionProviderConformance,
    cookie_pairs,
    request_with_cookies,
)
from mastra.core.testing.users import UserProviderConformance
from starlette.requests import Request

from .conftest import SECRET, make_embedded

PASSWORD = "correct horse battery"


class TestEmbeddedCredentials(CredentialsProviderConformance):
    @pytest.fixture
    def reset_outbox(self) -> list[tuple[str, str]]:
        return []

    @pytest.fixture
    def provider(self, database_url: str, reset_outbox: list[tuple[str, str]]) -> EmbeddedBetterAuth:
        async def sender(email: str, url: str) -> None:
            reset_outbox.append((email, url))

        return make_embedded(database_url, reset_sender=sender)

    @pytest.fixture
    def signup_disabled_provider(self, database_url: str) -> EmbeddedBetterAuth:
        return make_embedded(database_url, sign_up_enabled="false")

    async def disable_user(self, provider: Any, user_id: str) -> None:
        user = await provider.get_user(user_id)
        await provider.disable_user(user.email)

    async def expire_reset_tokens(self, provider: Any) -> None:
        assert await provider.expire_reset_tokens() >= 1


class TestEmbeddedSessions(SessionProviderConformance):
    """``session = better``: the ``session`` table behind Better Auth's signed cookie."""

    preserves_metadata = False  # the session table has ip/userAgent columns only
    idle_timeout = 1800
    absolute_timeout = 43200

    @pytest.fixture
    def provider(self, database_url: str, clock: FakeClock) -> EmbeddedBetterAuth:
        return make_embedded(
            database_url,
            clock=clock,
            session_expires_in=self.idle_timeout,
            session_max_lifetime=self.absolute_timeout,
        )

    @pytest.fixture
    async def user_ids(self, provider: EmbeddedBetterAuth) -> tuple[str, str]:
        first = await provider.create_user("one@example.com", "password-one")
        second = await provider.create_user("two@example.com", "password-two")
        return first.id, second.id


class TestEmbeddedUsers(UserProviderConformance):
    """``user = better`` reading its own sessions (``session = better``)."""

    sessions: Any  # the composition's session slot, which issues the sign-in cookie

    @pytest.fixture
    def provider(self, database_url: str) -> EmbeddedBetterAuth:
        provider = self.sessions = make_embedded(database_url)
        with_ee(user=provider, credentials=provider, session=provider)
        return provider

    async def sign_in(self, provider: EmbeddedBetterAuth, email: str) -> tuple[EEUser, Request]:
        user = await provider.create_user(email, PASSWORD)
        session = await self.sessions.create_session(user.id, {})
        return user, request_with_cookies(cookie_pairs(self.sessions.get_session_headers(session)))

    async def disable_user(self, provider: EmbeddedBetterAuth, user: EEUser) -> None:
        assert user.email is not None
        await provider.disable_user(user.email)


class TestEmbeddedUsersOnCookieSessions(TestEmbeddedUsers):
    """The embedded default: users resolved through the core ``cookie`` session slot."""

    @pytest.fixture
    def provider(self, database_url: str) -> EmbeddedBetterAuth:
        provider = make_embedded(database_url)
        self.sessions = CookieSessionProvider(secret=SECRET, registry=MemorySessionRegistry())
        with_ee(user=provider, credentials=provider, session=self.sessions)
        assert not provider.uses_own_sessions
        return provider
