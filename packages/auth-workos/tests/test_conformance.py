"""The core conformance suites, run against the WorkOS provider through the emulator.

Sessions cannot be created directly at WorkOS; the adapter's ``create_session`` signs
the user in through the emulator (authorize → code → ``handle_callback``) instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from mastra.auth.workos import WorkOSAuthProvider
from mastra.core.ee.models import EEUser, Session
from mastra.core.ee.testing.rbac import RBACProviderConformance
from mastra.core.ee.testing.sessions import SessionProviderConformance

ORG = "org_01EMULATED"


class LoginAdapter:
    """The provider, with ``create_session`` = a browser-style login through the emulator."""

    def __init__(self, provider: WorkOSAuthProvider, emulator: Any, login: Any) -> None:
        self._provider = provider
        self._emulator = emulator
        self._login = login

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        metadata = metadata or {}
        self._emulator.next_session_extra = {
            "ip_address": metadata.get("ip"),
            "user_agent": metadata.get("userAgent"),
        }
        sealed = await self._login(self._provider, user_id)
        session = await self._provider.validate_session(sealed)
        assert session is not None
        return session


class TestWorkOSSessions(SessionProviderConformance):
    controls_clock = False  # WorkOS owns time: token expiry and absolute lifetime are tested separately
    preserves_metadata = False  # the session is WorkOS's; metadata is derived from it

    @pytest.fixture
    def user_ids(self, emulator: Any) -> tuple[str, str]:
        return (emulator.add_user("one@example.com")["id"], emulator.add_user("two@example.com")["id"])

    @pytest.fixture
    def provider(self, provider: WorkOSAuthProvider, emulator: Any, login: Any) -> LoginAdapter:  # type: ignore[override]
        return LoginAdapter(provider, emulator, login)


class TestWorkOSRBAC(RBACProviderConformance):
    unknown_role_raises = False  # SPEC 10.1: unknown roles resolve to ``_default``

    @pytest.fixture
    def user_with_roles(self, emulator: Any) -> Any:
        counter = iter(range(10_000))

        def factory(roles: list[str]) -> EEUser:
            user = emulator.add_user(f"r{next(counter)}@example.com")
            if roles:
                emulator.add_membership(user["id"], ORG, roles)
            return EEUser(id=user["id"], email=user["email"], metadata={"workosId": user["id"]})

        return factory
