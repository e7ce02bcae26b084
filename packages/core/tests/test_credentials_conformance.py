"""The credentials conformance suite against the in-memory reference provider."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from mastra.core.ee.models import utcnow
from mastra.core.testing.credentials import CredentialsProviderConformance
from mastra.core.testing.reference import ReferenceProvider


class TestReferenceCredentials(CredentialsProviderConformance):
    validates_email = False  # the reference leaves e-mail syntax to the HTTP layer

    @pytest.fixture
    def provider(self) -> ReferenceProvider:
        return ReferenceProvider()

    @pytest.fixture
    def signup_disabled_provider(self) -> ReferenceProvider:
        return ReferenceProvider(sign_up_enabled=False)

    @pytest.fixture
    def reset_outbox(self, provider: ReferenceProvider) -> list[tuple[str, str]]:
        return provider.outbox

    async def disable_user(self, provider: Any, user_id: str) -> None:
        provider.disable_user(user_id)

    async def expire_reset_tokens(self, provider: Any) -> None:
        past = utcnow() - timedelta(seconds=1)
        provider._resets = {key: (user_id, past) for key, (user_id, _) in provider._resets.items()}
