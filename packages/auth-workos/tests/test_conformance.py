"""The core conformance suites, run against the WorkOS provider through the emulator.

Sessions cannot be created directly at WorkOS: the suites' ``new_session`` /
``sign_in`` hooks sign the user in through the emulator (authorize → code →
``handle_callback``) instead, as a browser would.
"""

from __future__ import annotations

from typing import Any

import pytest
from mastra.auth.workos import WorkOSAuthProvider
from mastra.core.ee.models import EEUser, Session
from mastra.core.testing.rbac import RBACProviderConformance
from mastra.core.testing.sessions import SessionProviderConformance, request_with_cookies
from mastra.core.testing.sso import SSOProviderConformance
from mastra.core.testing.users import UserProviderConformance
from starlette.requests import Request

ORG = "org_01EMULATED"


class EmulatorLogin:
    """Gives a suite the emulator and the browser-style ``login`` fixture."""

    emulator: Any
    login: Any

    @pytest.fixture(autouse=True)
    def _emulator_login(self, emulator: Any, login: Any) -> None:
        self.emulator, self.login = emulator, login


class TestWorkOSSessions(EmulatorLogin, SessionProviderConformance):
    controls_clock = False
    clock_skip_reason = (
        "WorkOS owns session lifetimes: expiry comes from the access tokens WorkOS signs and "
        "the session's auth_time; the provider has no idle timeout and no clock to move "
        "(test_sso_sessions.py::test_absolute_timeout_is_enforced covers the absolute "
        "lifetime against the emulator)"
    )
    preserves_metadata = False  # the session is WorkOS's; metadata is derived from it

    @pytest.fixture
    def user_ids(self, emulator: Any) -> tuple[str, str]:
        return (emulator.add_user("one@example.com")["id"], emulator.add_user("two@example.com")["id"])

    async def new_session(
        self, provider: WorkOSAuthProvider, user_id: str, metadata: dict[str, Any]
    ) -> Session:
        self.emulator.next_session_extra = {
            "ip_address": metadata.get("ip"),
            "user_agent": metadata.get("userAgent"),
        }
        sealed = await self.login(provider, user_id)
        session = await provider.validate_session(sealed)
        assert session is not None
        return session


class TestWorkOSUsers(EmulatorLogin, UserProviderConformance):
    async def sign_in(self, provider: WorkOSAuthProvider, email: str) -> tuple[EEUser, Request]:
        user = self.emulator.add_user(email)
        sealed = await self.login(provider, user["id"])
        return EEUser(id=user["id"], email=email), request_with_cookies({provider.cookie.name: sealed})


class TestWorkOSSSO(SSOProviderConformance):
    pass


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
