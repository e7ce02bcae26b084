"""Pydantic models of SPEC section 2: snake_case in Python, camelCase in JSON.

Every model dumps through :meth:`EEModel.to_json` so timestamps always take the
``2026-03-01T12:00:00.000Z`` form and ``None`` optionals are omitted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "ACLGrant",
    "AuditActor",
    "AuditEvent",
    "AuditEventInput",
    "AuditFilter",
    "AuditPage",
    "AuditResource",
    "CredentialsResult",
    "EEModel",
    "EEUser",
    "LicenseInfo",
    "PageInfo",
    "Pagination",
    "RBACCapabilities",
    "ResourceIdentifier",
    "RoleDefinition",
    "RoleMapping",
    "SSOCallbackResult",
    "SSOLoginConfig",
    "SSOTokens",
    "Session",
    "UTCDateTime",
    "format_timestamp",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are taken to be UTC: storage layers (SQLite) drop tzinfo.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with exactly three fractional digits and a ``Z``."""
    value = _as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


UTCDateTime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]


class EEModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
    )

    def to_json(self) -> dict[str, Any]:
        """The API form: camelCase keys, ISO timestamps, ``None`` optionals dropped."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class EEUser(EEModel):
    id: str
    email: str | None = None
    name: str | None = None
    avatar_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def via_api_key(self) -> bool:
        """Authenticated by an API key (``metadata.tokenType == "apikey"``), not by a
        person's sign-in: such a caller never changes passwords or handles sessions."""
        return self.metadata.get("tokenType") == "apikey"

    def public_json(self) -> dict[str, Any]:
        """Only ``id``, ``email``, ``name``, ``avatarUrl`` (SPEC 7 rule 11)."""
        return self.model_dump(
            mode="json", by_alias=True, exclude_none=True, include={"id", "email", "name", "avatar_url"}
        )


class Session(EEModel):
    id: str = Field(repr=False)  # a credential: never in repr, logs or API output
    user_id: str
    created_at: UTCDateTime
    expires_at: UTCDateTime
    last_seen_at: UTCDateTime | None = None
    handle: str | None = None
    user: EEUser | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class SSOLoginConfig(EEModel):
    provider: str
    text: str
    icon: str | None = None
    description: str | None = None


class SSOTokens(EEModel):
    access_token: str = Field(repr=False)
    refresh_token: str | None = Field(default=None, repr=False)
    id_token: str | None = Field(default=None, repr=False)
    expires_at: UTCDateTime | None = None


class SSOCallbackResult(EEModel):
    user: EEUser
    tokens: SSOTokens
    cookies: list[str] = Field(default_factory=list, repr=False)
    return_to: str | None = None


class CredentialsResult(EEModel):
    user: EEUser
    token: str | None = Field(default=None, repr=False)
    cookies: list[str] = Field(default_factory=list, repr=False)


class RoleDefinition(EEModel):
    id: str
    name: str
    description: str | None = None
    permissions: list[str] = Field(default_factory=list)
    inherits: list[str] | None = None


RoleMapping = dict[str, list[str]]


class ResourceIdentifier(EEModel):
    type: str
    id: str


class ACLGrant(EEModel):
    subject: str
    resource: ResourceIdentifier
    actions: list[str]
    granted_at: UTCDateTime
    granted_by: str


ActorType = Literal["user", "system", "apikey"]
Outcome = Literal["success", "failure", "denied"]


class AuditActor(EEModel):
    type: ActorType
    id: str
    email: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    organization_id: str | None = None


class AuditResource(EEModel):
    type: str
    id: str
    name: str | None = None


class AuditEventInput(EEModel):
    actor: AuditActor
    action: str
    outcome: Outcome
    resource: AuditResource | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    duration: int | None = None


class AuditEvent(AuditEventInput):
    id: str
    seq: int
    timestamp: UTCDateTime
    prev_hash: str
    hash: str

    def to_api_json(self) -> dict[str, Any]:
        """The HTTP form: :meth:`to_json` (what the hash covers) plus ``createdAt``, the
        name Mastra's own audit UI reads, beside ``timestamp``."""
        data = self.to_json()
        return {**data, "createdAt": data["timestamp"]}


class AuditFilter(EEModel):
    actor_id: str | None = None
    actor_type: ActorType | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    outcome: Outcome | None = None
    action: str | list[str] | None = None
    action_prefix: str | None = None
    start_date: UTCDateTime | None = None
    end_date: UTCDateTime | None = None


class Pagination(EEModel):
    page: int = Field(default=0, ge=0)
    # ``None`` means "everything": storage-internal only, never accepted over HTTP.
    per_page: int | None = Field(default=50, ge=1, le=500)


class PageInfo(EEModel):
    total: int
    page: int
    per_page: int
    has_more: bool


class AuditPage(EEModel):
    events: list[AuditEvent]
    pagination: PageInfo

    def to_api_json(self, *, offset: int, limit: int) -> dict[str, Any]:
        """SPEC 9.6's page plus the top-level ``total``/``offset``/``limit`` Mastra's own
        audit UI reads; events in their HTTP form."""
        return {
            "events": [event.to_api_json() for event in self.events],
            "pagination": self.pagination.to_json(),
            "total": self.pagination.total,
            "offset": offset,
            "limit": limit,
        }


class LicenseInfo(EEModel):
    valid: bool
    tier: Literal["standard", "enterprise"] | None = None
    features: list[str] | None = None
    expires_at: UTCDateTime | None = None
    organization: str | None = None


class RBACCapabilities(EEModel):
    multi_role: bool = False
    dynamic_roles: bool = False
    provider_managed_roles: bool = False
    permission_editing: bool = False
    role_assignment: bool = False
    role_inheritance: bool = False
    role_source: Literal["provider", "config", "storage", "hybrid"] = "config"
