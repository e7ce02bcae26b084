"""Records of the ``api_keys`` capability: keys, service accounts, refusals.

No record holds a secret except :class:`CreatedApiKey` (the one answer that carries
the full key, at creation and rotation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field

from ..errors import AuthError
from ..models import EEModel, UTCDateTime

__all__ = [
    "REFUSAL_MESSAGES",
    "ApiKey",
    "ApiKeyRefusal",
    "CreatedApiKey",
    "InvalidApiKey",
    "OwnerType",
    "RefusalReason",
    "ServiceAccount",
]

OwnerType = Literal["user", "service_account"]
RefusalReason = Literal[
    "malformed", "unknown", "wrong_secret", "expired", "revoked", "ip_not_allowed", "owner_disabled"
]

#: What the caller reads. A key that is unknown or whose secret is wrong gets one
#: message (no key id enumeration); the others are said only to a caller who presented
#: the right secret, so they tell the key's holder what to fix and nobody else anything.
REFUSAL_MESSAGES: dict[str, str] = {
    "malformed": "The API key is malformed",
    "unknown": "The API key is not valid",
    "wrong_secret": "The API key is not valid",
    "expired": "The API key has expired",
    "revoked": "The API key has been revoked",
    "ip_not_allowed": "The API key may not be used from this IP address",
    "owner_disabled": "The API key's owner is disabled",
}


class ApiKey(EEModel):
    """A key as stored, without its secret. ``id`` is the public key id."""

    id: str
    name: str
    owner_type: OwnerType
    owner_id: str
    environment: str
    scopes: list[str]
    ip_allowlist: list[str] = Field(default_factory=list)
    created_at: UTCDateTime
    expires_at: UTCDateTime
    created_by: str | None = None
    last_used_at: UTCDateTime | None = None
    last_used_ip: str | None = None
    revoked_at: UTCDateTime | None = None
    #: The key that replaced this one at rotation; this one then lives only for the grace.
    replaced_by: str | None = None

    @property
    def display_prefix(self) -> str:
        """``mk_<env>_<keyid>``: what lists show; recognisable, not usable."""
        return f"mk_{self.environment}_{self.id}"

    def refusal_at(self, now: datetime) -> RefusalReason | None:
        """Why this key is refused at ``now`` regardless of who presents it, if it is."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return None


class CreatedApiKey(EEModel):
    """A new key's record and its full text: returned once, never stored, never logged."""

    key: ApiKey
    secret: str = Field(repr=False)


class ServiceAccount(EEModel):
    """A non-human owner of keys: roles of its own, no password, cannot sign in."""

    id: str
    name: str
    roles: list[str]
    created_by: str | None = None
    created_at: UTCDateTime
    disabled: bool = False


class InvalidApiKey(AuthError):
    """A key that does not authenticate: 401 ``{"error":"Invalid API key","message":...}``."""

    code = "invalid_api_key"
    status = 401
    default_message = "Invalid API key"

    def __init__(self, reason: RefusalReason = "unknown") -> None:
        super().__init__(REFUSAL_MESSAGES[reason])
        self.reason: RefusalReason = reason

    def body(self) -> dict[str, str]:
        return {"error": self.default_message, "message": self.message}


@dataclass(frozen=True, slots=True)
class ApiKeyRefusal:
    """``verify``'s typed answer for a key that does not authenticate."""

    reason: RefusalReason
    #: The key id when the presented text named one (for the audit log).
    key_id: str | None = None
    #: ``(owner type, owner id)`` once the presented secret matched (expired, revoked,
    #: wrong IP, disabled owner): the audit log names whose key was in use.
    owner: tuple[OwnerType, str] | None = None

    def error(self) -> InvalidApiKey:
        return InvalidApiKey(self.reason)
