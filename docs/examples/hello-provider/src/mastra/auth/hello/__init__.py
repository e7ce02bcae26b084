"""mastra-auth-hello: users who present an API token signed with a shared secret.

Another service mints the tokens (``HelloAuth.mint_token``) with the same secret::

    [auth]
    user = "hello"

    [auth.options.hello]
    secret = "at least 32 characters, shared with the service that mints tokens"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar

from mastra.core.ee import EEUser, OptionsModel, ProviderOptions, provider_plugin
from mastra.core.ee.request_auth import bearer_token
from pydantic import Field
from starlette.requests import Request

__all__ = ["HelloAuth", "HelloOptions", "plugin"]


class HelloOptions(OptionsModel):
    provider_name: ClassVar[str] = "hello"

    secret: str = Field(min_length=32, repr=False)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class HelloAuth:
    """A user provider: ``<base64url(email)>.<base64url(HMAC-SHA256(secret, that text))>``."""

    def __init__(self, options: HelloOptions) -> None:
        self._key = options.secret.encode()

    @classmethod
    def from_options(cls, options: ProviderOptions) -> HelloAuth:
        return cls(options.parse(HelloOptions))

    def mint_token(self, email: str) -> str:
        payload = _b64(email.encode())
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    # -- IUserProvider, SupportsTokenAuth -------------------------------------------------

    async def authenticate_token(self, token: str, request: Any = None) -> EEUser | None:
        payload, _, signature = token.rpartition(".")
        # The text itself is signed, so no other spelling of the same bytes verifies.
        expected = self._sign(payload)
        if not payload or not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        email = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        return EEUser(id=email, email=email, name=email.partition("@")[0])

    async def get_current_user(self, request: Request) -> EEUser | None:
        token = bearer_token(request)
        return await self.authenticate_token(token) if token else None

    async def get_user(self, user_id: str) -> EEUser | None:
        return None  # tokens carry the user: there is no directory to ask


plugin = provider_plugin("hello", HelloAuth.from_options, capabilities=("user",))
