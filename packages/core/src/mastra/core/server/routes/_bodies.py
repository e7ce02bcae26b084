"""Request body models of the auth and audit routes: strict text, visible emails."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ...ee.api_keys import parse_allowlist
from ...ee.errors import TextPolicyError
from ...ee.permissions import validate_permission
from ...ee.policy import check_display_text

__all__ = [
    "ApiKeyCreateBody",
    "ApiKeyRotateBody",
    "Body",
    "ChangePasswordBody",
    "EmailText",
    "PasswordText",
    "ResetConfirmBody",
    "ResetRequestBody",
    "SafeStr",
    "ServiceAccountCreateBody",
    "ServiceAccountUpdateBody",
    "SignInBody",
    "SignUpBody",
]


def _no_nul_or_surrogates(value: str) -> str:
    # Lone surrogates cannot be encoded (hashing would fail) and NUL breaks PostgreSQL text.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


SafeStr = Annotated[str, AfterValidator(_no_nul_or_surrogates)]


def _visible_email(value: str) -> str:
    # S26: an address that hides or reorders characters is refused before it is used
    # or written to the audit log; pydantic reports the policy's message as the issue.
    try:
        return check_display_text(value, "Email")
    except TextPolicyError as refused:
        raise ValueError(refused.message) from None


#: An email as sign-in and reset requests accept it: shape checked, nothing invisible.
EmailText = Annotated[
    SafeStr,
    Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
    AfterValidator(_visible_email),
]


#: A password as every route accepts it (the provider applies the policy).
PasswordText = Annotated[SafeStr, Field(min_length=1, max_length=1024)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class SignInBody(Body):
    email: EmailText
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]


class SignUpBody(Body):
    email: Annotated[SafeStr, Field(min_length=1, max_length=320)]
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]
    name: Annotated[SafeStr, Field(max_length=200)] | None = None


class ResetRequestBody(Body):
    email: EmailText


class ResetConfirmBody(Body):
    token: Annotated[SafeStr, Field(min_length=1, max_length=512)]
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]


class ChangePasswordBody(Body):
    currentPassword: PasswordText
    newPassword: PasswordText


# -- API keys and service accounts (issue #15) ----------------------------------------------


def _visible_name(value: str) -> str:
    try:
        checked = check_display_text(value, "Name")
    except TextPolicyError as refused:
        raise ValueError(refused.message) from None
    if not checked.strip():  # spaces only, including U+00A0 and U+3000
        raise ValueError("Name must contain visible characters")
    return checked


def _scopes(values: list[str]) -> list[str]:
    # The grammar of role permissions (SPEC 4); pydantic names the offending field.
    return [validate_permission(value) for value in values]


def _cidrs(values: list[str]) -> list[str]:
    return parse_allowlist(values)


def _roles(values: list[str]) -> list[str]:
    roles = [value.strip() for value in values if value.strip()]
    if not roles:
        raise ValueError("at least one role is required")
    return list(dict.fromkeys(roles))


#: What a key or a service account is called in lists: visible text, no NUL.
DisplayName = Annotated[SafeStr, Field(min_length=1, max_length=100), AfterValidator(_visible_name)]
ScopeList = Annotated[
    list[Annotated[SafeStr, Field(min_length=1, max_length=200)]],
    Field(min_length=1, max_length=100),
    AfterValidator(_scopes),
]
CidrList = Annotated[
    list[Annotated[SafeStr, Field(min_length=1, max_length=64)]],
    Field(max_length=100),
    AfterValidator(_cidrs),
]
RoleList = Annotated[
    list[Annotated[SafeStr, Field(min_length=1, max_length=200)]],
    Field(min_length=1, max_length=50),
    AfterValidator(_roles),
]


class ApiKeyCreateBody(Body):
    name: DisplayName
    scopes: ScopeList
    #: ``None``: the policy's default lifetime; the route checks the policy's maximum.
    expiresInDays: Annotated[int, Field(strict=True, ge=1, le=36500)] | None = None
    ipAllowlist: CidrList = Field(default_factory=list)


class ApiKeyRotateBody(Body):
    gracePeriodSeconds: Annotated[int, Field(strict=True, ge=0, le=604800)] = 0


class ServiceAccountCreateBody(Body):
    name: DisplayName
    roles: RoleList


class ServiceAccountUpdateBody(Body):
    roles: RoleList | None = None
    disabled: Annotated[bool, Field(strict=True)] | None = None
